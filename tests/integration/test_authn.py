"""Authentication: dev tokens and OIDC tokens verified against a JWKS served by a local fake IdP."""

import asyncio
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from api.authn import issue_dev_token
from tests.harness import Stack
from workers.embedded_pg import free_port

ISSUER = "http://127.0.0.1/realms/internal"
AUDIENCE = "https://admin-api/graphql"


def _assert_401(r, detail: str):
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "auth.unauthenticated"
    assert r.json()["detail"] == detail


async def test_dev_tokens(stack):
    anon = stack.anonymous()
    _assert_401(await anon.get("/api/v1/me"), "Missing token.")
    admin_id = (await stack.http.get("/api/v1/me")).json()["user"]["id"]

    expired = issue_dev_token(stack.settings, uuid.UUID(admin_id), ttl_s=-10)
    _assert_401(await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"}), "Expired token.")

    good = issue_dev_token(stack.settings, uuid.UUID(admin_id))
    header = jwt.get_unverified_header(good)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(jwt.decode(good, options={"verify_signature": False}), other_key, algorithm="RS256",
                        headers={"kid": header["kid"]})
    _assert_401(await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}), "Invalid token.")
    _assert_401(await anon.get("/api/v1/me", headers={"Authorization": "Bearer not-a-jwt"}), "Invalid token.")

    unknown = issue_dev_token(stack.settings, uuid.uuid4())
    _assert_401(await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {unknown}"}), "Unknown user.")

    r = await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 200 and r.json()["user"]["id"] == admin_id


def test_dev_signing_refused_unless_enabled(tmp_path):
    from ground.settings import Settings

    with pytest.raises(RuntimeError):
        issue_dev_token(Settings(data_dir=tmp_path, auth_dev_signing=False), uuid.uuid4())
    with pytest.raises(RuntimeError):
        issue_dev_token(Settings(data_dir=tmp_path, auth_dev_signing=True, environment="production"), uuid.uuid4())


class FakeIdp:
    """A JWKS endpoint on a real HTTP server; ``add_key`` rotates a new signing key in."""

    def __init__(self) -> None:
        self.jwks: list[dict] = []
        self.hits: list[str] = []
        self.key = self.add_key("idp-1")
        self.url = ""

    def add_key(self, kid: str) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
        self.jwks.append(jwk)
        return key


@pytest.fixture
def fake_idp():
    idp = FakeIdp()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            idp.hits.append(self.path)
            body = json.dumps({"keys": idp.jwks}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    idp.url = f"http://127.0.0.1:{server.server_port}/certs"
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()


def idp_token(sub: str, signer, kid: str) -> str:
    now = int(time.time())
    return jwt.encode({"lanaId": sub, "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 300}, signer,
                      algorithm="RS256", headers={"kid": kid})


async def test_oidc_tokens_against_jwks(db_url, engine, ts_env, fake_idp):
    key, jwks_url, hits = fake_idp.key, fake_idp.url, fake_idp.hits
    async with Stack.start(db_url, engine, ts_env.client, oidc_jwks_url=jwks_url, oidc_issuer=ISSUER,
                           oidc_audience=AUDIENCE) as stack:
        admin_id = (await stack.http.get("/api/v1/me")).json()["user"]["id"]
        anon = stack.anonymous()

        def token(sub=admin_id, aud=AUDIENCE, iss=ISSUER, exp=300, signer=key, claim="lanaId"):
            now = int(time.time())
            return jwt.encode({claim: sub, "aud": aud, "iss": iss, "iat": now, "exp": now + exp}, signer,
                              algorithm="RS256", headers={"kid": "idp-1"})

        async def me(tok):
            return await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {tok}"})

        r = await me(token())
        assert r.status_code == 200 and r.json()["user"]["id"] == admin_id
        assert (await me(token(claim="subject"))).status_code == 200
        _assert_401(await me(token(exp=-30)), "Expired token.")
        _assert_401(await me(token(aud="https://customer-api/graphql")), "Invalid audience.")
        _assert_401(await me(token(iss="http://evil/realms/internal")), "Invalid token.")
        forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _assert_401(await me(token(signer=forged)), "Invalid token.")
        _assert_401(await me(token(sub=str(uuid.uuid4()))), "Unknown user.")
        _assert_401(await me(token(sub="not-a-uuid")), "Invalid token subject.")
        assert len(hits) == 1, "JWKS keys are cached between requests"


async def test_unknown_key_ids_refetch_the_jwks_at_most_once_per_interval(db_url, engine, ts_env, fake_idp):
    interval = 2.0
    async with Stack.start(db_url, engine, ts_env.client, oidc_jwks_url=fake_idp.url, oidc_issuer=ISSUER,
                           oidc_audience=AUDIENCE, oidc_jwks_refetch_interval_s=interval) as stack:
        admin_id = (await stack.http.get("/api/v1/me")).json()["user"]["id"]
        anon = stack.anonymous()

        async def me(tok):
            return await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {tok}"})

        assert (await me(idp_token(admin_id, fake_idp.key, "idp-1"))).status_code == 200
        assert len(fake_idp.hits) == 1
        started = time.monotonic()
        for _ in range(25):  # random kids: refused from the cache, the provider is not asked again
            _assert_401(await me(idp_token(admin_id, fake_idp.key, uuid.uuid4().hex)), "Invalid token.")
        assert time.monotonic() - started < interval, "the test host is too slow for this interval"
        assert len(fake_idp.hits) == 1

        rotated = fake_idp.add_key("idp-2")  # the provider rotates: known after the interval
        await asyncio.sleep(interval + 0.1)
        assert (await me(idp_token(admin_id, rotated, "idp-2"))).status_code == 200
        for _ in range(10):
            _assert_401(await me(idp_token(admin_id, rotated, uuid.uuid4().hex)), "Invalid token.")
        assert len(fake_idp.hits) == 2
        assert (await me(idp_token(admin_id, fake_idp.key, "idp-1"))).status_code == 200


async def test_a_verified_token_is_remembered_until_it_expires(stack):
    """The verifier remembers a verified token (no second RSA check) but never past its exp, and a
    token it could not verify is never remembered."""
    anon = stack.anonymous()
    admin_id = uuid.UUID((await stack.http.get("/api/v1/me")).json()["user"]["id"])
    short = issue_dev_token(stack.settings, admin_id, ttl_s=2)
    verifier = stack.app.state.authz.verifier
    assert (await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {short}"})).status_code == 200
    assert verifier._verified[short][0].id == admin_id and verifier._verified[short][1] <= time.time() + 2
    forged = short[:-4] + ("AAAA" if not short.endswith("AAAA") else "BBBB")
    _assert_401(await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}), "Invalid token.")
    assert forged not in verifier._verified
    await asyncio.sleep(2.2)
    _assert_401(await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {short}"}), "Expired token.")


CUSTOMER_ISSUER = "http://127.0.0.1/realms/customer"
CUSTOMER_AUDIENCE = "https://customer-api/graphql"


async def test_customer_realm_tokens_against_jwks(db_url, engine, ts_env, fake_idp):
    """Both realms on one IdP (same keys): issuer and audience alone keep them apart."""
    async with Stack.start(db_url, engine, ts_env.client, oidc_jwks_url=fake_idp.url, oidc_issuer=ISSUER,
                           oidc_audience=AUDIENCE, customer_oidc_jwks_url=fake_idp.url,
                           customer_oidc_issuer=CUSTOMER_ISSUER, customer_oidc_audience=CUSTOMER_AUDIENCE) as stack:
        admin_id = (await stack.http.get("/api/v1/me")).json()["user"]["id"]
        r = await stack.http.post("/api/v1/customers", json={"email": "Bea@Example.com", "telegram_handle": "bea",
                                                             "customer_type": "Individual"})
        customer_id = r.json()["id"]
        anon = stack.anonymous()

        def token(claims: dict, iss=CUSTOMER_ISSUER, aud=CUSTOMER_AUDIENCE) -> str:
            now = int(time.time())
            return jwt.encode({**claims, "aud": aud, "iss": iss, "iat": now, "exp": now + 300}, fake_idp.key,
                              algorithm="RS256", headers={"kid": "idp-1"})

        async def get(path, tok):
            return await anon.get(path, headers={"Authorization": f"Bearer {tok}"})

        for claims in ({"lanaId": customer_id}, {"sub": str(uuid.uuid4()), "email": "bea@example.com"}):
            r = await get("/api/v1/portal/me", token(claims))
            assert r.status_code == 200 and r.json()["customer"]["id"] == customer_id, (claims, r.text)
        _assert_401(await get("/api/v1/portal/me", token({"sub": str(uuid.uuid4())})), "Invalid token subject.")
        _assert_401(await get("/api/v1/portal/me", token({"lanaId": customer_id}, aud=AUDIENCE)), "Invalid audience.")
        _assert_401(await get("/api/v1/portal/me", token({"email": "nobody@example.com"})), "Unknown customer.")

        r = await get("/api/v1/me", token({"lanaId": customer_id}))
        assert (r.status_code, r.json()["code"]) == (403, "auth.forbidden"), r.text
        operator = idp_token(admin_id, fake_idp.key, "idp-1")
        r = await get("/api/v1/portal/me", operator)
        assert (r.status_code, r.json()["code"]) == (403, "auth.forbidden"), r.text
        assert (await get("/api/v1/me", operator)).status_code == 200
        async with stack.engine.connect() as conn:
            from sqlalchemy import text

            refused = {tuple(x) for x in await conn.execute(text(
                "SELECT subject, action FROM audit_entries WHERE NOT authorized"))}
        assert {(f"customer:{customer_id}", "access:user:read"), (f"user:{admin_id}", "portal:me:read")} <= refused
