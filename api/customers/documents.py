"""Customer documents: upload (multipart), list, read, archive, delete, temporary download link."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from sqlalchemy import select

from activities.customers.documents import (
    document_row,
    existing_document,
    insert_document,
    load_document,
    save_document,
)
from activities.customers.repository import customer_row
from activities.customers.tables import customer_documents
from activities.storage import DocumentStorage, build_storage
from api.authz import Principal, require
from api.customers.schemas import DocumentOut, DownloadLinkOut
from api.deps import EngineDep, ReadConn
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, keyset_page, page_params
from domain.customers.documents import CustomerDocument, DocumentStatus, storage_path
from domain.customers.errors import (
    DocumentArchived,
    DocumentNotFound,
    DocumentTooLarge,
    DocumentTypeNotAllowed,
)
from domain.customers.model import ensure_open

log = structlog.get_logger(__name__)
router = APIRouter(tags=["customer documents"])


async def get_storage(request: Request) -> DocumentStorage:
    state = request.app.state
    if getattr(state, "document_storage", None) is None:
        state.document_storage = build_storage(state.settings)
    return state.document_storage


def now_ts(request: Request) -> float:
    """The wall clock, overridable in tests through ``app.state.clock``."""
    return getattr(request.app.state, "clock", time.time)()


async def _read_limited(file: UploadFile, limit: int) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise DocumentTooLarge(f"Documents are limited to {limit} bytes.", max_bytes=limit)
    return data


@router.post("/customers/{customer_id}/documents", status_code=201, response_model=DocumentOut,
             summary="Upload a document for a customer (multipart part `file`)")
async def upload_document(customer_id: uuid.UUID, request: Request, response: Response, engine: EngineDep,
                          file: UploadFile = File(...),
                          storage: DocumentStorage = Depends(get_storage),
                          principal: Principal = require("customer:customer-document:create",
                                                         id_param="customer_id"),
                          _idem: str | None = idempotent()) -> DocumentOut:
    settings = request.app.state.settings
    content_type = (file.content_type or "application/octet-stream").split(";")[0].strip().lower()
    if content_type not in settings.documents_allowed_types:
        raise DocumentTypeNotAllowed(f"Content type {content_type!r} is not allowed.",
                                     allowed=settings.documents_allowed_types)
    data = await _read_limited(file, settings.documents_max_bytes)
    async with engine.connect() as conn:
        ensure_open(str(customer_id), (await customer_row(conn, str(customer_id))).status, "add a document")
    document_id = str(new_entity_id(request))
    filename = (file.filename or "file")[:255]
    sha = hashlib.sha256(data).hexdigest()
    doc = CustomerDocument.upload(document_id, str(customer_id), original_filename=filename,
                                  content_type=content_type, size_bytes=len(data), sha256=sha,
                                  storage_identifier=storage.identifier, actor=principal.subject)
    path = storage_path(document_id, content_type)
    async with engine.connect() as conn:
        row = await existing_document(conn, document_id)
    if row is None:  # a retry of a request whose document was committed never touches its file
        await storage.upload(data, path, content_type)
        try:
            async with engine.begin() as conn:
                await insert_document(conn, doc, original_filename=filename, content_type=content_type,
                                      size_bytes=len(data), sha256=sha, storage_identifier=storage.identifier)
                row = await document_row(conn, document_id)
        except Exception:
            async with engine.connect() as conn:
                committed = await existing_document(conn, document_id) is not None
            if not committed:  # nothing persisted: do not leave an orphan file
                await storage.remove(path)
            raise
    elif row.deleted:
        raise DocumentNotFound(f"Customer document {document_id} was deleted.")
    response.headers["Location"] = f"/api/v1/customer-documents/{document_id}"
    return DocumentOut.from_row(row)


@router.get("/customers/{customer_id}/documents", response_model=Page[DocumentOut],
            summary="List a customer's documents, newest first (archived included)")
async def list_documents(customer_id: uuid.UUID, conn: ReadConn, page: PageParams = Depends(page_params),
                         principal: Principal = require("customer:customer-document:list")) -> Page[DocumentOut]:
    await customer_row(conn, str(customer_id))
    t = customer_documents
    query = select(t).where(t.c.customer_id == str(customer_id), t.c.deleted.is_(False))
    return await keyset_page(conn, query, t, page, DocumentOut.from_row)


@router.get("/customer-documents/{document_id}", response_model=DocumentOut, summary="Document metadata")
async def get_document(document_id: uuid.UUID, conn: ReadConn,
                       principal: Principal = require("customer:customer-document:read",
                                                      id_param="document_id")) -> DocumentOut:
    return DocumentOut.from_row(await document_row(conn, str(document_id)))


@router.post("/customer-documents/{document_id}/download-link", response_model=DownloadLinkOut,
             summary="A signed download link that expires")
async def download_link(document_id: uuid.UUID, request: Request, engine: EngineDep,
                        storage: DocumentStorage = Depends(get_storage),
                        principal: Principal = require("customer:customer-document:generate-download-link",
                                                       id_param="document_id")) -> DownloadLinkOut:
    settings = request.app.state.settings
    async with engine.begin() as conn:
        doc = await load_document(conn, str(document_id))
        if doc.status != DocumentStatus.ACTIVE:
            raise DocumentArchived(f"Customer document {document_id} is archived.")
        url, expires = storage.download_link(doc.path_in_storage, settings.documents_link_ttl_seconds,
                                             now_ts(request))
        expires_at = datetime.fromtimestamp(expires, UTC)
        doc.link_generated(expires_at.isoformat(), principal.subject)
        await save_document(conn, doc)
    return DownloadLinkOut(url=url, expires_at=expires_at)


@router.post("/customer-documents/{document_id}/archive", response_model=DocumentOut,
             summary="Archive a document (file kept; idempotent)")
async def archive_document(document_id: uuid.UUID, engine: EngineDep,
                           principal: Principal = require("customer:customer-document:delete",
                                                          id_param="document_id")) -> DocumentOut:
    async with engine.begin() as conn:
        doc = await load_document(conn, str(document_id))
        doc.archive(principal.subject)
        await save_document(conn, doc)
        return DocumentOut.from_row(await document_row(conn, str(document_id)))


@router.delete("/customer-documents/{document_id}", status_code=204, summary="Delete file and record")
async def delete_document(document_id: uuid.UUID, engine: EngineDep,
                          storage: DocumentStorage = Depends(get_storage),
                          principal: Principal = require("customer:customer-document:delete",
                                                         id_param="document_id")) -> Response:
    async with engine.begin() as conn:
        doc = await load_document(conn, str(document_id))
        doc.delete(principal.subject)
        await save_document(conn, doc)
    # only once the deletion is committed: a failed transaction must leave the file of a live row
    try:
        await storage.remove(doc.path_in_storage)
    except Exception:  # noqa: BLE001 - the row is gone; an orphan file is harmless, log it
        log.exception("document file not removed after delete", document_id=str(document_id),
                      path=doc.path_in_storage)
    return Response(status_code=204)
