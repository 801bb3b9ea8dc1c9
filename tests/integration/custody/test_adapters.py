"""Each custodian adapter against a local fake of its provider's HTTP API: the real adapter code,
request signing, webhook verification and parsing run; no network beyond 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from embit.bip32 import HDKey
from embit.networks import NETWORKS

from activities.custody.bitgo import decrypt_private_key
from activities.custody.clients import client_for
from activities.custody.self_custody import derive_address
from domain.custody.config import CustodianConfigInvalid, XpubNetworkMismatch
from domain.custody.model import (
    CustodianProviderError,
    Network,
    PrecisionLoss,
    WebhookNotice,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from ground.settings import Settings
from tests.fakes.bitgo import running_fake_bitgo
from tests.fakes.esplora import running_fake_esplora
from tests.fakes.komainu import running_fake_komainu

NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
# BIP84 test vector ("abandon … about"): account 0 zpub and its first two receive addresses
BIP84_ZPUB = ("zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAY"
              "z2oz2AGutZYs")


def bitgo_config(fake, **extra):
    return {"long_lived_token": fake.token, "enterprise_id": fake.enterprise_id, "passphrase": "pass phrase",
            "testing_instance": True, "webhook_url": "https://lana.example/webhooks/bitgo",
            "webhook_secret": fake.webhook_secret, **extra}


def komainu_config(fake, **extra):
    return {"api_key": fake.api_key, "api_secret": fake.api_secret, "testing_instance": True,
            "secret_key": fake.secret_key, "webhook_secret": fake.webhook_secret, **extra}


# -- BitGo --------------------------------------------------------------------------------------------

async def test_bitgo_verifies_creates_a_wallet_and_rereads_the_balance():
    async with running_fake_bitgo() as fake:
        client = client_for("bitgo", bitgo_config(fake), Settings(custody_bitgo_url=fake.url))
        await client.verify_client()
        wallet = await client.initialize_wallet("CF f-1", None)
        assert wallet.network is Network.TESTNET4
        assert fake.wallets[wallet.external_wallet_id]["label"] == "CF f-1"
        assert wallet.address == fake.wallets[wallet.external_wallet_id]["receiveAddress"]["address"]
        assert fake.webhooks == [{"wallet": wallet.external_wallet_id, "type": "transfer",
                                  "url": "https://lana.example/webhooks/bitgo"}]
        user = next(k for k in fake.keys.values() if k["source"] == "user")
        assert user["coin"] == "tbtc4" and "pass phrase" not in user["encryptedPrv"]
        assert decrypt_private_key("pass phrase", user["encryptedPrv"]).startswith("tprv")

        body = fake.notice(wallet.external_wallet_id, "t-1")
        client.verify_webhook(fake.sign(body), body, NOW)
        notice = client.parse_webhook({}, body)
        assert notice.event_id == f"bitgo:{wallet.external_wallet_id}:t-1:confirmed"
        fake.set_transfer(wallet.external_wallet_id, "t-1")
        fake.set_balance(wallet.external_wallet_id, 150_000_000)
        balance = await client.current_balance(notice)
        assert (balance.balance_sats, balance.changed_at) == (150_000_000, NOW)


async def test_bitgo_refuses_a_wrong_token_and_retries_an_outage():
    async with running_fake_bitgo() as fake:
        bad = client_for("bitgo", bitgo_config(fake, long_lived_token="stolen"), Settings(custody_bitgo_url=fake.url))
        with pytest.raises(CustodianProviderError) as refused:
            await bad.verify_client()
        assert refused.value.transient is False
        fake.fail_status = 503
        good = client_for("bitgo", bitgo_config(fake), Settings(custody_bitgo_url=fake.url))
        with pytest.raises(CustodianProviderError) as outage:
            await good.verify_client()
        assert outage.value.transient is True


async def test_bitgo_transfer_no_longer_confirmed_changes_nothing():
    async with running_fake_bitgo() as fake:
        client = client_for("bitgo", bitgo_config(fake), Settings(custody_bitgo_url=fake.url))
        wallet = await client.initialize_wallet("CF f-2", None)
        fake.set_transfer(wallet.external_wallet_id, "t-9", state="replaced")
        notice = WebhookNotice(event_id="x", external_wallet_id=wallet.external_wallet_id, detail={"transfer": "t-9"})
        assert await client.current_balance(notice) is None


def test_bitgo_webhook_signature_and_payload_rules():
    from tests.fakes.bitgo import FakeBitGo
    fake = FakeBitGo()
    client = client_for("bitgo", bitgo_config(fake), Settings())
    body = fake.notice("w-1", "t-1")
    client.verify_webhook({"X-Signature-SHA256": fake.sign(body)["x-signature-sha256"]}, body, NOW)  # any case
    for headers in ({}, {"x-signature-sha256": "not hex"}, fake.sign(body, secret="other"),
                    fake.sign(body + b" ")):
        with pytest.raises(WebhookSignatureInvalid):
            client.verify_webhook(headers, body, NOW)
    assert client.parse_webhook({}, fake.notice("w-1", "t-1", state="unconfirmed")) is None
    assert client.parse_webhook({}, fake.notice("w-1", "t-1", simulation=True)) is None
    for bad in (b"[]", b"{}", b"not json", fake.notice("w-1", "t-1", state="teleported")):
        with pytest.raises(WebhookPayloadInvalid):
            client.parse_webhook({}, bad)


def test_bitgo_config_is_validated_and_redacted():
    from tests.fakes.bitgo import FakeBitGo
    with pytest.raises(CustodianConfigInvalid) as bad_url:
        client_for("bitgo", bitgo_config(FakeBitGo(), webhook_url="ftp:/x"), Settings())
    assert "webhook_url" in bad_url.value.detail and "ftp" not in bad_url.value.detail
    with pytest.raises(CustodianConfigInvalid):
        client_for("bitgo", {"type": "komainu", **bitgo_config(FakeBitGo())}, Settings())
    client = client_for("bitgo", bitgo_config(FakeBitGo()), Settings())
    assert "bitgo-token" not in repr(client) + repr(client.config) + str(client.config)


# -- Komainu ------------------------------------------------------------------------------------------

async def test_komainu_signs_requests_caches_the_bearer_and_reads_exact_balances():
    async with running_fake_komainu() as fake:
        for i in range(3):  # two pages of 200 are walked to find the label
            fake.add_wallet(f"other {i}")
        for i in range(200):
            fake.add_wallet(f"filler {i}")
        wallet_id = fake.add_wallet("CF f-1", available="0.12345678")
        client = client_for("komainu", komainu_config(fake), Settings(custody_komainu_url=fake.url))
        await client.verify_client()
        wallet = await client.initialize_wallet("CF f-1", None)
        assert (wallet.external_wallet_id, wallet.network) == (wallet_id, Network.TESTNET3)

        body = fake.notice(wallet_id)
        headers = fake.sign(body)
        now = datetime.fromtimestamp(int(headers["x-komainu-timestamp"]) / 1000, UTC)
        client.verify_webhook(headers, body, now)
        notice = client.parse_webhook(headers, body)
        assert notice.event_id == f"komainu:{headers['x-komainu-signature']}"
        balance = await client.current_balance(notice)
        assert balance.balance_sats == 12_345_678
        assert balance.changed_at == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
        fake.set_available(wallet_id, "0.123456789")
        with pytest.raises(PrecisionLoss):
            await client.current_balance(notice)
        # one bearer for every call of every client instance of these credentials
        again = client_for("komainu", komainu_config(fake), Settings(custody_komainu_url=fake.url))
        await again.verify_client()
        assert fake.tokens_issued == 1 and fake.signed_calls >= 5


async def test_komainu_refuses_a_wrong_signing_key_and_waits_for_an_unopened_wallet():
    from tests.fakes.komainu import new_p256_pem
    async with running_fake_komainu() as fake:
        forged = client_for("komainu", komainu_config(fake, secret_key=new_p256_pem(), api_key=fake.api_key),
                            Settings(custody_komainu_url=fake.url))
        forged.forget_token()
        with pytest.raises(CustodianProviderError) as refused:
            await forged.verify_client()
        assert refused.value.transient is False and fake.signed_calls == 0
        client = client_for("komainu", komainu_config(fake), Settings(custody_komainu_url=fake.url))
        with pytest.raises(CustodianProviderError) as waiting:
            await client.initialize_wallet("CF nobody", None)
        assert waiting.value.transient is True


async def test_komainu_replaces_a_cached_bearer_the_provider_no_longer_honours():
    """A bearer Komainu revoked before its announced expiry (or a new Komainu behind the same URL,
    as a fake on a reused port): one new bearer and one more try, not a refused call."""
    async with running_fake_komainu() as fake:
        client = client_for("komainu", komainu_config(fake), Settings(custody_komainu_url=fake.url))
        client.forget_token()
        await client.verify_client()
        fake.revoke_sessions()
        await client.verify_client()
        assert fake.tokens_issued == 2 and fake.signed_calls == 2
        assert fake.calls.count("GET /v1/custody/wallets") == 3  # the refused call, then its retry
        fake.api_secret = "rotated-at-komainu"  # a new bearer is refused: a refusal, not a loop
        fake.revoke_sessions()
        with pytest.raises(CustodianProviderError) as refused:
            await client.verify_client()
        assert refused.value.transient is False and fake.tokens_issued == 2


def test_komainu_webhook_signature_freshness_and_payload():
    from tests.fakes.komainu import FakeKomainu
    fake = FakeKomainu()
    client = client_for("komainu", komainu_config(fake), Settings(custody_komainu_webhook_tolerance_s=300))
    body = fake.notice("w-1")
    ts = str(int(NOW.timestamp() * 1000))
    client.verify_webhook(fake.sign(body, ts), body, NOW + timedelta(minutes=4))
    client.verify_webhook(fake.sign(body, str(int(NOW.timestamp()))), body, NOW)  # seconds are accepted too
    for headers, at in ((fake.sign(body, ts), NOW + timedelta(minutes=6)),  # replayed later
                        (fake.sign(body, ts), NOW - timedelta(minutes=6)),
                        (fake.sign(body, ts, secret="other"), NOW),
                        ({"x-komainu-signature": fake.sign(body, ts)["x-komainu-signature"]}, NOW),
                        ({"x-komainu-timestamp": ts}, NOW)):
        with pytest.raises(WebhookSignatureInvalid):
            client.verify_webhook(headers, body, at)
    tampered = {**fake.sign(body, ts), "x-komainu-timestamp": str(int(ts) + 1)}
    with pytest.raises(WebhookSignatureInvalid):
        client.verify_webhook(tampered, body, NOW)
    assert client.parse_webhook({}, fake.notice("w-1", id="evt-7")).event_id == "komainu:evt-7"
    for bad in (json.dumps({"event_type": "WITHDRAWAL", "entity": "WALLET", "entity_id": "w"}).encode(), b"{}"):
        with pytest.raises(WebhookPayloadInvalid):
            client.parse_webhook({}, bad)


def test_komainu_secret_key_must_be_p256():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.fakes.komainu import FakeKomainu
    k1 = ec.generate_private_key(ec.SECP256K1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    for pem in ("not a key", k1):
        with pytest.raises(CustodianConfigInvalid):
            client_for("komainu", komainu_config(FakeKomainu(), secret_key=pem), Settings())


# -- self-custody --------------------------------------------------------------------------------------

def test_self_custody_derives_the_bip84_receive_addresses():
    assert derive_address(BIP84_ZPUB, Network.MAINNET, 0) == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert derive_address(BIP84_ZPUB, Network.MAINNET, 1) == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"


def test_self_custody_xpub_must_match_the_network_family():
    tpub = HDKey.from_seed(b"\x01" * 32, version=NETWORKS["test"]["xprv"]).derive("m/84h/1h/0h").to_public()
    assert derive_address(tpub.to_string(), Network.TESTNET4, 0).startswith("tb1q")
    with pytest.raises(XpubNetworkMismatch):
        client_for("self-custody", {"account_xpub": BIP84_ZPUB, "network": "testnet4"}, Settings())
    with pytest.raises(XpubNetworkMismatch):
        client_for("self-custody", {"account_xpub": tpub.to_string(), "network": "mainnet"}, Settings())
    xprv = HDKey.from_seed(b"\x02" * 32).to_string()
    with pytest.raises(CustodianConfigInvalid):
        client_for("self-custody", {"account_xpub": xprv, "network": "mainnet"}, Settings())


async def test_self_custody_wallets_and_confirmed_balance_from_esplora():
    async with running_fake_esplora() as esplora:
        settings = Settings(custody_esplora_urls={"mainnet": esplora.url})
        client = client_for("self-custody", {"account_xpub": BIP84_ZPUB, "network": "mainnet"}, settings)
        await client.verify_client()
        wallet = await client.initialize_wallet("CF f-1", 1)
        assert wallet.external_wallet_id == "self-custody:1"
        assert wallet.address == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
        assert wallet.custodian_response["derivation_path"] == "m/84'/0'/0'/0/1"
        esplora.fund(wallet.address, funded=250_000, spent=100_000)
        balance = await client.fetch_wallet_balance(wallet.external_wallet_id, wallet.address)
        assert balance.balance_sats == 150_000
        esplora.fund(wallet.address, funded=1, spent=2)
        with pytest.raises(CustodianProviderError):
            await client.fetch_wallet_balance(wallet.external_wallet_id, wallet.address)
        # no Esplora URL for the network: a clear error, not a call to a default host
        orphan = client_for("self-custody", {"account_xpub": BIP84_ZPUB, "network": "mainnet"},
                            Settings(custody_esplora_urls={}))
        with pytest.raises(Exception, match="no Esplora URL for mainnet"):
            await orphan.verify_client()


# -- manual and mock ------------------------------------------------------------------------------------

async def test_manual_has_no_wallet_and_mock_has_the_fixed_one():
    manual = client_for("manual", {}, Settings())
    assert await manual.initialize_wallet("CF x", None) is None
    mock = client_for("mock", {}, Settings())
    wallet = await mock.initialize_wallet("CF x", None)
    assert (wallet.external_wallet_id, wallet.address, wallet.network) == ("123", "bt1qaddressmock", Network.TESTNET4)
    body = b'{"wallet":"123","balance":1000}'
    mock.verify_webhook({}, body, NOW)
    notice = mock.parse_webhook({}, body)
    assert notice.event_id == mock.parse_webhook({}, body).event_id and notice.event_id.startswith("mock:")
    assert (await mock.current_balance(notice)).balance_sats == 1000
    assert mock.parse_webhook({}, b'{"wallet":"123"}') is None
    assert mock.parse_webhook({}, b"junk") is None


def test_logged_configs_are_redacted():
    from workers.logging_setup import REDACTED, redact_secrets
    event = redact_secrets(None, "info", {"event": "x", "custodian_config": {"api_key": "k"},
                                          "nested": [{"webhook_secret": "s", "name": "BitGo"}]})
    assert event["custodian_config"] == REDACTED
    assert event["nested"] == [{"webhook_secret": REDACTED, "name": "BitGo"}]
