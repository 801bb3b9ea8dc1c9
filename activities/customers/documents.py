"""Customer document persistence: events + the `customer_documents` read model, one transaction."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.customers.tables import customer_documents
from domain.customers.documents import (
    CustomerDocument,
    DocumentStatus,
    document_id_of_path,
    sanitize_filename,
    storage_path,
)
from domain.customers.errors import DocumentNotFound


async def insert_document(conn: AsyncConnection, doc: CustomerDocument, *, original_filename: str,
                          content_type: str, size_bytes: int, sha256: str, storage_identifier: str) -> None:
    await event_store.save_entity(conn, doc)
    await conn.execute(insert(customer_documents).values(
        id=doc.id, customer_id=doc.customer_id, original_filename=original_filename,
        sanitized_filename=sanitize_filename(original_filename), content_type=content_type,
        size_bytes=size_bytes, sha256=sha256, path_in_storage=storage_path(doc.id, content_type),
        storage_identifier=storage_identifier, status=doc.status.value, deleted=False,
        version=doc.version, created_at=func.now(), updated_at=func.now(),
    ))


async def load_document(conn: AsyncConnection, document_id: str) -> CustomerDocument:
    doc = await event_store.load_entity(conn, CustomerDocument, document_id)
    if doc is None or doc.status == DocumentStatus.DELETED:
        raise DocumentNotFound(f"Customer document {document_id} does not exist.")
    return doc


async def save_document(conn: AsyncConnection, doc: CustomerDocument) -> None:
    if not doc.pending:
        return
    await event_store.save_entity(conn, doc)
    await conn.execute(update(customer_documents).where(customer_documents.c.id == doc.id).values(
        status=doc.status.value, deleted=doc.status == DocumentStatus.DELETED, version=doc.version,
        updated_at=func.now(),
    ))


async def document_row(conn: AsyncConnection, document_id: str):
    row = (await conn.execute(select(customer_documents).where(
        customer_documents.c.id == document_id, customer_documents.c.deleted.is_(False)))).first()
    if row is None:
        raise DocumentNotFound(f"Customer document {document_id} does not exist.")
    return row


async def existing_document(conn: AsyncConnection, document_id: str):
    """The read-model row of ``document_id`` (deleted included), or None when none was committed."""
    return (await conn.execute(select(customer_documents).where(customer_documents.c.id == document_id))).first()


async def serves_links(conn: AsyncConnection, path: str) -> bool:
    """True iff ``path`` is the file of an active (neither archived nor deleted) document."""
    document_id = document_id_of_path(path)
    if document_id is None:
        return False
    t = customer_documents
    row = (await conn.execute(select(t.c.id).where(
        t.c.id == document_id, t.c.path_in_storage == path, t.c.deleted.is_(False),
        t.c.status == DocumentStatus.ACTIVE.value))).first()
    return row is not None
