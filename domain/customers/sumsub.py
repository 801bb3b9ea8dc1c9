"""SumSub webhook parsing and signature checks (customers-deposits.md §6.5, §6.6). Pure."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DIGEST_ALGORITHMS = {
    "HMAC_SHA1_HEX": hashlib.sha1,
    "HMAC_SHA256_HEX": hashlib.sha256,
    "HMAC_SHA512_HEX": hashlib.sha512,
}


def verify_digest(secret: str, body: bytes, digest: str | None, algorithm: str | None) -> bool:
    """True iff ``digest`` is the hex HMAC of the raw body under the webhook secret (constant time)."""
    if not secret or not digest:
        return False
    hash_fn = DIGEST_ALGORITHMS.get(algorithm or "HMAC_SHA256_HEX")
    if hash_fn is None:
        return False
    expected = hmac.new(secret.encode(), body, hash_fn).hexdigest()
    # bytes, not text: compare_digest refuses non-ASCII str (a TypeError, i.e. a 500)
    return hmac.compare_digest(expected.encode(), digest.strip().lower().encode("utf-8", "surrogatepass"))


def sign_request(secret: str, ts: str, method: str, path_with_query: str, body: bytes) -> str:
    """X-App-Access-Sig: hex HMAC-SHA256 of ts ‖ METHOD ‖ path_with_query ‖ body (§6.2)."""
    message = ts.encode() + method.upper().encode() + path_with_query.encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class KycNotice:
    """A verified SumSub callback, reduced to what the customer's KYC workflow needs."""

    event_id: str
    type: str
    customer_id: str
    applicant_id: str
    level_name: str
    review_answer: str | None  # GREEN / RED for applicantReviewed
    created_at: datetime | None


def parse_created_at(value: Any) -> datetime | None:
    """SumSub's ``createdAtMs`` is ``"2024-10-05 13:23:19.003"`` (UTC)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def event_identity(payload: dict[str, Any], body: bytes) -> str:
    """lana's inbox key: ``type:correlationId:createdAtMs``, else a hash of the body (§6.5)."""
    parts = [payload.get("type"), payload.get("correlationId"), payload.get("createdAtMs")]
    if all(isinstance(p, str) and p for p in parts):
        return ":".join(parts)  # type: ignore[arg-type]
    return "payload-" + hashlib.sha256(body).hexdigest()


def parse_notice(payload: dict[str, Any], body: bytes) -> KycNotice | None:
    """The notice, or None when the callback is of a type we do not act on or lacks its customer."""
    kind = payload.get("type")
    if kind not in ("applicantCreated", "applicantReviewed"):
        return None
    customer_id = payload.get("externalUserId")
    if not isinstance(customer_id, str) or not customer_id:
        return None
    answer = None
    if kind == "applicantReviewed":
        result = payload.get("reviewResult") or {}
        answer = str(result.get("reviewAnswer", "")).upper() if isinstance(result, dict) else ""
        if answer not in ("GREEN", "RED"):
            return None
    return KycNotice(
        event_id=event_identity(payload, body),
        type=kind,
        customer_id=customer_id,
        applicant_id=str(payload.get("applicantId") or ""),
        level_name=str(payload.get("levelName") or ""),
        review_answer=answer,
        created_at=parse_created_at(payload.get("createdAtMs")),
    )
