"""Pure customer rules: KYC review decisions, SumSub parsing/signing, activity boundaries, documents."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from domain.customers.activity import add_years, classify
from domain.customers.documents import link_signature, link_valid, sanitize_filename, storage_path
from domain.customers.model import Activity, Customer, CustomerType, DepositAccountAction, KycLevel, KycReview
from domain.customers.sumsub import event_identity, parse_notice, sign_request, verify_digest

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def review(event_id: str, approved: bool, at: datetime) -> KycReview:
    return KycReview(event_id, approved, "app-1", "basic-kyc-level", at)


def test_review_decisions_are_idempotent_and_ordered():
    c = Customer.create("c1", "a@b.co", "h", CustomerType.INDIVIDUAL, "system")
    assert c.apply_review(review("e1", True, T0), KycLevel.BASIC) is None
    assert c.apply_review(review("e1", True, T0), KycLevel.BASIC) is None  # replay
    n = len(c.pending)
    assert c.apply_review(review("e0", False, T0 - timedelta(days=1)), KycLevel.BASIC) is None  # stale
    assert len(c.pending) == n
    assert c.apply_review(review("e2", False, T0 + timedelta(days=1)), None) == DepositAccountAction.FREEZE
    assert c.request_deposit_action(DepositAccountAction.FREEZE, "kyc", "k1")
    assert not c.request_deposit_action(DepositAccountAction.FREEZE, "kyc", "k1")
    assert c.apply_review(review("e3", True, T0 + timedelta(days=2)), None) is None  # unmapped level: ignored
    assert c.apply_review(review("e4", True, T0 + timedelta(days=3)), KycLevel.ADVANCED) == \
        DepositAccountAction.UNFREEZE
    rebuilt = Customer.rebuild("c1", [_ev(i, t, p) for i, (t, p) in enumerate(c.pending, 1)])
    assert rebuilt.kyc_level == KycLevel.ADVANCED and rebuilt.accounts_frozen_by_kyc


def _ev(seq, event_type, payload):
    from domain.events import Event

    return Event("customer", "c1", seq, event_type, payload)


def test_activity_boundaries_at_exactly_one_and_ten_years():
    last = datetime(2020, 3, 15, 8, 30, tzinfo=UTC)
    second = timedelta(seconds=1)
    assert classify(last, add_years(last, 1) - second) == Activity.ACTIVE
    assert classify(last, add_years(last, 1)) == Activity.INACTIVE
    assert classify(last, add_years(last, 10)) == Activity.INACTIVE
    assert classify(last, add_years(last, 10) + second) == Activity.SUSPENDED
    leap = datetime(2024, 2, 29, tzinfo=UTC)
    assert add_years(leap, 1) == datetime(2025, 2, 28, tzinfo=UTC)


def test_suspended_is_terminal():
    c = Customer.create("c1", "a@b.co", "h", CustomerType.BANK, "system")
    assert c.classify(Activity.SUSPENDED, T0)
    assert not c.classify(Activity.ACTIVE, T0)
    assert c.activity == Activity.SUSPENDED


def test_webhook_digest_and_identity():
    body = b'{"type":"applicantReviewed"}'
    good = hmac.new(b"s", body, hashlib.sha512).hexdigest()
    assert verify_digest("s", body, good, "HMAC_SHA512_HEX")
    assert not verify_digest("s", body, good, "HMAC_SHA256_HEX")
    assert not verify_digest("", body, good, "HMAC_SHA512_HEX")
    assert not verify_digest("s", body, None, None)
    assert event_identity({"type": "a", "correlationId": "b", "createdAtMs": "c"}, body) == "a:b:c"
    assert event_identity({"type": "a"}, body).startswith("payload-")
    notice = parse_notice({"type": "applicantReviewed", "externalUserId": "u", "createdAtMs":
                           "2024-10-05 13:23:19.003", "reviewResult": {"reviewAnswer": "green"}}, body)
    assert notice and notice.review_answer == "GREEN"
    assert notice.created_at == datetime(2024, 10, 5, 13, 23, 19, 3000, tzinfo=UTC)
    assert parse_notice({"type": "applicantReviewed", "externalUserId": "u",
                         "reviewResult": {"reviewAnswer": "YELLOW"}}, body) is None


def test_request_signature_matches_sumsub_recipe():
    sig = sign_request("secret", "1700000000", "post", "/resources/applicants?levelName=x", b'{"a":1}')
    expected = hmac.new(b"secret", b'1700000000POST/resources/applicants?levelName=x{"a":1}',
                        hashlib.sha256).hexdigest()
    assert sig == expected


def test_document_rules():
    assert sanitize_filename("  my file.v2.pdf ") == "my-file-v2-pdf"
    assert storage_path("d1", "application/pdf") == "documents/customer_document/d1.pdf"
    assert storage_path("d1", "image/png") == "documents/customer_document/d1"
    sig = link_signature("k", "p", 10)
    assert link_valid("k", "p", 10, sig) and not link_valid("k", "p", 11, sig)


async def test_s3_storage_adapter_calls_the_bucket():
    from activities.storage import S3Storage

    class FakeS3:
        def __init__(self):
            self.calls = []

        def put_object(self, **kw):
            self.calls.append(("put", kw["Bucket"], kw["Key"], kw["ContentType"]))

        def delete_object(self, **kw):
            self.calls.append(("delete", kw["Bucket"], kw["Key"]))

        def generate_presigned_url(self, op, Params, ExpiresIn):  # noqa: N803
            return f"https://s3.test/{Params['Bucket']}/{Params['Key']}?X-Amz-Expires={ExpiresIn}"

    fake = FakeS3()
    s3 = S3Storage("docs", client=fake)
    await s3.upload(b"x", "documents/customer_document/d.pdf", "application/pdf")
    url, expires = s3.download_link("documents/customer_document/d.pdf", 300, 1000.0)
    await s3.remove("documents/customer_document/d.pdf")
    assert s3.identifier == "s3:docs" and expires == 1300 and url.endswith("X-Amz-Expires=300")
    assert [c[0] for c in fake.calls] == ["put", "delete"]


def test_lifecycle_freeze_unfreeze_close_and_closed_is_terminal():
    import pytest

    from domain.customers.errors import CustomerIsClosed
    from domain.customers.model import ContactField, CustomerStatus, OpenProducts

    c = Customer.create("c1", "a@b.co", "h", CustomerType.INDIVIDUAL, "system")
    assert c.status == CustomerStatus.ACTIVE and not c.holds_deposit_accounts
    assert not c.check_unfreeze() and not c.unfreeze("u")  # not frozen: nothing to do
    assert c.freeze("u") and not c.freeze("u") and c.holds_deposit_accounts
    assert c.unfreeze("u") and c.status == CustomerStatus.ACTIVE
    assert c.update_contact(ContactField.EMAIL, "new@b.co", "u")
    assert not c.update_contact(ContactField.EMAIL, "new@b.co", "u")  # unchanged: idempotent
    assert c.update_contact(ContactField.TELEGRAM_HANDLE, "h2", "u")
    assert c.close(OpenProducts(), "u") and not c.close(OpenProducts(open_deposit_accounts=1), "u")
    for command in (lambda: c.freeze("u"), lambda: c.unfreeze("u"),
                    lambda: c.update_contact(ContactField.EMAIL, "x@b.co", "u"),
                    lambda: c.update_contact(ContactField.EMAIL, "new@b.co", "u")):
        with pytest.raises(CustomerIsClosed) as err:
            command()
        assert err.value.code == "customer.is_closed" and err.value.status == 409
    rebuilt = Customer.rebuild("c1", [_ev(i, t, p) for i, (t, p) in enumerate(c.pending, 1)])
    assert (rebuilt.status, rebuilt.email, rebuilt.telegram_handle) == (CustomerStatus.CLOSED, "new@b.co", "h2")
    assert [t for t, _ in c.pending][1:] == ["frozen", "unfrozen", "email_updated", "telegram_handle_updated",
                                             "closed"]


def test_close_preconditions_in_spec_order():
    import pytest

    from domain.customers.errors import ClosePreconditionFailed
    from domain.customers.model import OpenProducts

    c = Customer.create("c1", "a@b.co", "h", CustomerType.INDIVIDUAL, "system")
    counts = {"active_credit_facilities": "customer.has_active_credit_facilities",
              "pending_credit_facility_proposals": "customer.has_pending_credit_facility_proposals",
              "pending_credit_facilities": "customer.has_pending_credit_facilities",
              "open_deposit_accounts": "customer.has_open_deposit_accounts",
              "pending_withdrawals": "customer.has_pending_withdrawals"}
    everything = dict.fromkeys(counts, 1)
    for name, code in counts.items():  # the first still open is the one named
        with pytest.raises(ClosePreconditionFailed) as err:
            c.check_close(OpenProducts(**everything))
        assert err.value.code == code and err.value.status == 409 and err.value.extra["open"] == name
        everything[name] = 0
    assert c.check_close(OpenProducts(**everything)) and len(c.pending) == 1  # a predicate records nothing


def test_a_kyc_hold_and_a_freeze_each_hold_the_deposit_accounts():
    c = Customer.create("c1", "a@b.co", "h", CustomerType.INDIVIDUAL, "system")
    c.apply_review(review("e1", True, T0), KycLevel.BASIC)
    assert c.apply_review(review("e2", False, T0 + timedelta(days=1)), KycLevel.BASIC) == DepositAccountAction.FREEZE
    c.request_deposit_action(DepositAccountAction.FREEZE, "kyc", "k1")
    c.freeze("u")
    c.unfreeze("u")
    assert c.holds_deposit_accounts  # the KYC RED still holds them
    c.freeze("u")
    c.request_deposit_action(DepositAccountAction.UNFREEZE, "kyc", "k2")
    assert c.holds_deposit_accounts  # the freeze still holds them
    c.unfreeze("u")
    assert not c.holds_deposit_accounts
