"""Customer documents through the API: upload limits, list, archive, delete, expiring signed links."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.integration.customers_helpers import create_customer, customer_stack

PDF = b"%PDF-1.4 fake document\n" * 10


@pytest.fixture
async def dstack(db_url, engine, ts_env, tmp_path):
    async with customer_stack(db_url, engine, ts_env.client, documents_dir=tmp_path / "docs",
                              documents_max_bytes=1024, documents_link_ttl_seconds=3600) as s:
        yield s


async def upload(stack, customer_id, content=PDF, name="contract v1.pdf", ctype="application/pdf"):
    return await stack.http.post(f"/api/v1/customers/{customer_id}/documents",
                                 files={"file": (name, content, ctype)})


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_upload_list_and_reject_bad_files(dstack, tmp_path):
    c = await create_customer(dstack.http)
    r = await upload(dstack, c["id"])
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["sanitized_filename"] == "contract-v1-pdf" and doc["size_bytes"] == len(PDF)
    assert (tmp_path / "docs" / "documents" / "customer_document" / f"{doc['id']}.pdf").read_bytes() == PDF

    too_big = await upload(dstack, c["id"], content=b"x" * 1025)
    assert too_big.status_code == 413 and too_big.json()["code"] == "customer.document_too_large"
    exe = await upload(dstack, c["id"], name="a.exe", ctype="application/x-msdownload")
    assert exe.status_code == 415 and exe.json()["code"] == "customer.document_type_not_allowed"
    missing = await upload(dstack, "6a0c0e55-0000-4000-8000-000000000000")
    assert missing.status_code == 404

    second = (await upload(dstack, c["id"], name="b.csv", ctype="text/csv", content=b"a,b\n")).json()
    listed = (await dstack.http.get(f"/api/v1/customers/{c['id']}/documents")).json()["items"]
    assert [d["id"] for d in listed] == [second["id"], doc["id"]]  # newest first, rejects left nothing
    assert len(list((tmp_path / "docs" / "documents" / "customer_document").iterdir())) == 2


async def test_download_link_works_then_expires(dstack):
    c = await create_customer(dstack.http)
    doc = (await upload(dstack, c["id"])).json()
    link = await dstack.http.post(f"/api/v1/customer-documents/{doc['id']}/download-link")
    assert link.status_code == 200, link.text
    url = local_path(link.json()["url"])
    ok = await dstack.http.get(url)
    assert ok.status_code == 200 and ok.content == PDF
    assert ok.headers["content-type"] == "application/pdf"
    assert ok.headers["content-disposition"].startswith("inline")

    tampered = url.replace("sig=", "sig=0")
    assert (await dstack.http.get(tampered)).status_code == 403
    non_ascii = url.split("sig=")[0] + "sig=%C3%A9" * 64  # not text compare_digest accepts: 403, not 500
    r = await dstack.http.get(non_ascii)
    assert r.status_code == 403 and r.json()["code"] == "customer.document_link_invalid"
    expires = int(url.split("expires=")[1].split("&")[0])
    dstack.app.state.clock = lambda: expires + 1  # one second past the link's expiry
    expired = await dstack.http.get(url)
    assert expired.status_code == 403 and expired.json()["code"] == "customer.document_link_expired"
    dstack.app.state.clock = lambda: expires  # still valid at its last second
    assert (await dstack.http.get(url)).status_code == 200
    assert expires - time.time() == pytest.approx(3600, abs=60)


async def test_local_storage_rejects_escaping_paths(dstack):
    import base64

    from activities.storage import document_link_secret
    from domain.customers.documents import link_signature

    bad = "../../etc/passwd"
    enc = base64.urlsafe_b64encode(bad.encode()).decode().rstrip("=")
    sig = link_signature(document_link_secret(dstack.settings), bad, 9999999999)
    r = await dstack.http.get(f"/local-storage/{enc}?expires=9999999999&sig={sig}")
    assert r.status_code == 400


async def test_archive_and_delete(dstack, tmp_path):
    c = await create_customer(dstack.http)
    doc = (await upload(dstack, c["id"])).json()
    for _ in range(2):  # idempotent
        r = await dstack.http.post(f"/api/v1/customer-documents/{doc['id']}/archive")
        assert r.status_code == 200 and r.json()["status"] == "ARCHIVED"
    listed = (await dstack.http.get(f"/api/v1/customers/{c['id']}/documents")).json()["items"]
    assert [d["status"] for d in listed] == ["ARCHIVED"]

    r = await dstack.http.delete(f"/api/v1/customer-documents/{doc['id']}")
    assert r.status_code == 204
    assert not (tmp_path / "docs" / "documents" / "customer_document" / f"{doc['id']}.pdf").exists()
    assert (await dstack.http.get(f"/api/v1/customer-documents/{doc['id']}")).status_code == 404
    assert (await dstack.http.get(f"/api/v1/customers/{c['id']}/documents")).json()["items"] == []
    assert (await dstack.http.delete(f"/api/v1/customer-documents/{doc['id']}")).status_code == 404


async def test_a_malformed_cursor_is_a_problem_not_a_500(stack):
    from api.pagination import encode_cursor
    from tests.integration.customers_helpers import create_customer

    customer = await create_customer(stack.http)
    r = await stack.http.get(f"/api/v1/customers/{customer['id']}/documents",
                             params={"after": encode_cursor(["not-a-time", "x"])})
    assert r.status_code == 422 and r.json()["code"] == "common.invalid_cursor"


def stored_file(tmp_path, doc) -> object:
    return tmp_path / "docs" / "documents" / "customer_document" / f"{doc['id']}.pdf"


async def test_a_retry_after_a_crash_keeps_the_committed_document_file(dstack, tmp_path):
    """The first run committed its document, then crashed before its response was stored: the
    reservation is taken over after the lease and the handler runs again with the same document id."""
    from sqlalchemy import text

    c = await create_customer(dstack.http)
    headers = {"Idempotency-Key": "upload-after-crash"}
    first = await dstack.http.post(f"/api/v1/customers/{c['id']}/documents", headers=headers,
                                   files={"file": ("contract.pdf", PDF, "application/pdf")})
    assert first.status_code == 201, first.text
    async with dstack.engine.begin() as conn:  # as left by a crash: reserved long ago, never completed
        await conn.execute(text("UPDATE api_idempotency SET status_code = NULL, response_body = NULL, "
                                "completed_at = NULL, reserved_at = now() - interval '1 day' "
                                "WHERE key = 'upload-after-crash'"))
    retry = await dstack.http.post(f"/api/v1/customers/{c['id']}/documents", headers=headers,
                                   files={"file": ("contract.pdf", PDF, "application/pdf")})
    assert retry.status_code == 201, retry.text
    assert retry.json()["id"] == first.json()["id"]
    assert stored_file(tmp_path, first.json()).read_bytes() == PDF
    link = await dstack.http.post(f"/api/v1/customer-documents/{first.json()['id']}/download-link")
    assert (await dstack.http.get(local_path(link.json()["url"]))).content == PDF


async def test_delete_removes_the_file_only_after_the_row_is_gone(dstack, tmp_path):
    from sqlalchemy import text

    c = await create_customer(dstack.http)
    doc = (await upload(dstack, c["id"])).json()
    async with dstack.engine.begin() as conn:  # the delete's transaction fails at its last statement
        await conn.execute(text("CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
                                "BEGIN IF NEW.deleted THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"))
        await conn.execute(text("CREATE TRIGGER refuse_delete BEFORE UPDATE ON customer_documents "
                                "FOR EACH ROW EXECUTE FUNCTION refuse_delete()"))
    r = await dstack.http.delete(f"/api/v1/customer-documents/{doc['id']}")
    assert r.status_code == 500
    assert (await dstack.http.get(f"/api/v1/customer-documents/{doc['id']}")).status_code == 200
    assert stored_file(tmp_path, doc).read_bytes() == PDF  # the live row keeps its file
    async with dstack.engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER refuse_delete ON customer_documents"))
    assert (await dstack.http.delete(f"/api/v1/customer-documents/{doc['id']}")).status_code == 204
    assert not stored_file(tmp_path, doc).exists()


async def test_forged_long_lived_links_and_links_of_archived_or_deleted_documents_are_refused(dstack):
    from activities.storage import document_link_secret, encode_path
    from domain.customers.documents import link_signature

    c = await create_customer(dstack.http)
    doc = (await upload(dstack, c["id"])).json()
    url = local_path((await dstack.http.post(f"/api/v1/customer-documents/{doc['id']}/download-link")).json()["url"])
    assert (await dstack.http.get(url)).status_code == 200

    # a link that "never expires", correctly signed (a leaked secret): longer than the TTL, refused
    path = f"documents/customer_document/{doc['id']}.pdf"
    forever = int(time.time()) + 10 * 365 * 86400
    sig = link_signature(document_link_secret(dstack.settings), path, forever)
    r = await dstack.http.get(f"/local-storage/{encode_path(path)}?expires={forever}&sig={sig}")
    assert r.status_code == 403 and r.json()["code"] == "customer.document_link_invalid"

    assert (await dstack.http.post(f"/api/v1/customer-documents/{doc['id']}/archive")).status_code == 200
    r = await dstack.http.get(url)  # issued while active: stops working once archived
    assert r.status_code == 404 and r.json()["code"] == "customer.document_not_found"
    r = await dstack.http.post(f"/api/v1/customer-documents/{doc['id']}/download-link")
    assert r.status_code == 409 and r.json()["code"] == "customer.document_archived"

    other = (await upload(dstack, c["id"])).json()
    url = local_path((await dstack.http.post(f"/api/v1/customer-documents/{other['id']}/download-link")).json()["url"])
    assert (await dstack.http.delete(f"/api/v1/customer-documents/{other['id']}")).status_code == 204
    assert (await dstack.http.get(url)).status_code == 404
