"""`GET /local-storage/{base64url(path)}?expires=&sig=`: serve a locally stored file to a signed link.

Checks (custody-price-reports.md §5.3): bad encoding or a path escaping the root → 400; bad signature →
403 "Invalid signature" (checked first); expired → 403 "Link has expired"; an expiry further ahead than
``LANA_DOCUMENTS_LINK_TTL_SECONDS`` → 403 (no link outlives the configured lifetime, even one signed
with a leaked secret); the document archived or deleted, or the file missing → 404.
"""

from __future__ import annotations

import binascii
import mimetypes

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from activities.customers.documents import serves_links
from activities.reports.store import is_report_file
from activities.storage import DocumentStorage, LocalStorage, decode_path
from api.customers.documents import get_storage, now_ts
from api.deps import ReadConn
from domain.customers.documents import link_valid
from domain.customers.errors import DocumentNotFound
from domain.errors import Forbidden, LanaError, NotFound

router = APIRouter(tags=["documents"])


@router.get("/local-storage/{encoded_path}", summary="Download a locally stored file through a signed link",
            response_class=FileResponse)
async def local_download(encoded_path: str, expires: int, sig: str, request: Request, conn: ReadConn,
                         storage: DocumentStorage = Depends(get_storage)) -> FileResponse:
    if not isinstance(storage, LocalStorage):
        raise NotFound("Local storage is not in use.")
    try:
        path = decode_path(encoded_path)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise LanaError("Invalid path encoding.", code="common.bad_request") from exc
    target = storage.resolve(path)
    if target is None:
        raise LanaError("Invalid path.", code="common.bad_request")
    if not link_valid(storage.secret, path, expires, sig):
        raise Forbidden("Invalid signature", code="customer.document_link_invalid")
    now = now_ts(request)
    if expires < now:
        raise Forbidden("Link has expired", code="customer.document_link_expired")
    if expires > now + request.app.state.settings.documents_link_ttl_seconds:
        # longer than any link this API issues: a forged or stale-policy link, never served
        raise Forbidden("Link lifetime exceeds the maximum", code="customer.document_link_invalid")
    if not (await serves_links(conn, path) or (path.startswith("reports/") and await is_report_file(conn, path))):
        raise DocumentNotFound("The document is archived or deleted.")
    if not target.is_file():
        raise NotFound("File not found.")
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=media_type, content_disposition_type="inline",
                        filename=target.name)
