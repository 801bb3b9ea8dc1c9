"""Customer documents: the entity and its pure rules (customers-deposits.md §7, custody §5)."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.events import EventSourced

_EXTENSIONS = {"application/pdf": ".pdf", "text/csv": ".csv"}


class DocumentStatus(StrEnum):
    ACTIVE = "Active"
    ARCHIVED = "Archived"
    DELETED = "Deleted"


def sanitize_filename(name: str) -> str:
    """Trim, then replace every char that is neither alphanumeric nor `-` by `-` (lana's rule)."""
    return re.sub(r"[^0-9A-Za-z-]", "-", name.strip()) or "file"


def storage_path(document_id: str, content_type: str) -> str:
    return f"documents/customer_document/{document_id}{_EXTENSIONS.get(content_type, '')}"


def document_id_of_path(path: str) -> str | None:
    """The document id a storage path names (``storage_path``'s inverse), or None."""
    prefix = "documents/customer_document/"
    if not path.startswith(prefix):
        return None
    stem = path[len(prefix):].split(".", 1)[0]
    try:
        return str(uuid.UUID(stem))
    except ValueError:
        return None


def link_signature(secret: str, path: str, expires: int) -> str:
    return hmac.new(secret.encode(), f"{path}:{expires}".encode(), hashlib.sha256).hexdigest()


def link_valid(secret: str, path: str, expires: int, sig: str) -> bool:
    # bytes, not text: compare_digest refuses non-ASCII str (a TypeError, i.e. a 500)
    return hmac.compare_digest(link_signature(secret, path, expires).encode(),
                               sig.encode("utf-8", "surrogatepass"))


@dataclass
class CustomerDocument(EventSourced):
    entity_type = "customer_document"

    customer_id: str = ""
    status: DocumentStatus = DocumentStatus.ACTIVE
    path_in_storage: str = ""

    @classmethod
    def upload(cls, document_id: str, customer_id: str, *, original_filename: str, content_type: str,
               size_bytes: int, sha256: str, storage_identifier: str, actor: str) -> CustomerDocument:
        doc = cls(id=document_id)
        doc.record("initialized", {
            "customer_id": customer_id, "original_filename": original_filename,
            "sanitized_filename": sanitize_filename(original_filename), "content_type": content_type,
            "path_in_storage": storage_path(document_id, content_type),
            "storage_identifier": storage_identifier, "actor": actor,
        })
        doc.record("file_uploaded", {"size_bytes": size_bytes, "sha256": sha256})
        return doc

    def link_generated(self, expires_at: str, actor: str) -> None:
        self.record("download_link_generated", {"expires_at": expires_at, "actor": actor})

    def archive(self, actor: str) -> bool:
        if self.status != DocumentStatus.ACTIVE:
            return False
        self.record("archived", {"actor": actor})
        return True

    def delete(self, actor: str) -> bool:
        if self.status == DocumentStatus.DELETED:
            return False
        self.record("deleted", {"actor": actor})
        return True

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "initialized":
            self.customer_id = payload["customer_id"]
            self.path_in_storage = payload["path_in_storage"]
        elif event_type == "archived":
            self.status = DocumentStatus.ARCHIVED
        elif event_type == "deleted":
            self.status = DocumentStatus.DELETED
