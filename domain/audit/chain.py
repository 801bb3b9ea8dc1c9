"""The audit hash chain.

Each sealed entry's hash commits to the previous entry's hash and to every column of the entry:
``hash_n = sha256(hash_{n-1} || canonical(entry_n))``, with ``hash_0`` = 32 zero bytes. Changing,
inserting or deleting any sealed entry changes every later hash, so a verifier that recomputes
the chain names the first entry whose stored hash no longer matches.
"""

from __future__ import annotations

import hashlib
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
