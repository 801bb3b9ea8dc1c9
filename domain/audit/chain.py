"""The audit hash chain.

Each sealed entry's hash commits to the previous entry's hash and to every column of the entry:
``hash_n = HMAC-SHA256(key, hash_{n-1} || canonical(entry_n))``, with ``hash_0`` = 32 zero bytes and
the key held outside the database (its id is stored with each seal, so keys can rotate). Changing,
inserting or deleting any sealed entry changes every later hash, and without the key nobody can
recompute them, so a verifier names the first entry whose stored hash no longer matches. Seals made
before the chain was keyed (no key id) used ``sha256(hash_{n-1} || canonical(entry_n))``.

An *anchor* is the chain's head (position, entry id, hash) signed with the key and kept outside the
database, so deleting the newest entries with their seals is detected too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

GENESIS = bytes(32)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AuditRecord:
    id: int
    subject: str
    object: str
    action: str
    authorized: bool
    recorded_at: datetime
    request_id: str | None = None
    workflow_id: str | None = None


def canonical(entry: AuditRecord) -> bytes:
    micros = (entry.recorded_at - _EPOCH) // timedelta(microseconds=1)
    return json.dumps(
        [entry.id, entry.subject, entry.object, entry.action, entry.authorized, micros,
         entry.request_id, entry.workflow_id],
        separators=(",", ":"), ensure_ascii=False,
    ).encode()


def link(prev_hash: bytes, entry: AuditRecord) -> bytes:
    return hashlib.sha256(prev_hash + canonical(entry)).digest()


def keyed_link(key: bytes, prev_hash: bytes, entry: AuditRecord) -> bytes:
    return hmac.new(key, prev_hash + canonical(entry), hashlib.sha256).digest()


ANCHOR_FIELDS = ("position", "entry_id", "hash", "legacy_until", "anchored_at", "key_id")


def anchor_signature(key: bytes, anchor: dict) -> str:
    """Hex HMAC-SHA256 over the anchor's fields (domain-separated from chain hashes)."""
    message = json.dumps(["lana-audit-anchor-v1", *(anchor[f] for f in ANCHOR_FIELDS)],
                         separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def anchor_valid(key: bytes, anchor: dict) -> bool:
    sig = anchor.get("sig")
    return isinstance(sig, str) and hmac.compare_digest(anchor_signature(key, anchor).encode(),
                                                        sig.encode("utf-8", "surrogatepass"))
