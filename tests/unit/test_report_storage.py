"""Report files reach document storage from disk (``upload_file``): copied locally, streamed by
boto3 on S3 (its ``upload_file``, multipart for large files), with the content type."""

from __future__ import annotations

import pytest

from activities.storage import LocalStorage, S3Storage


async def test_local_upload_file_copies_under_the_root(tmp_path):
    src = tmp_path / "src.csv"
    src.write_text("a,b\n1,2\n")
    storage = LocalStorage(tmp_path / "root", "http://x", "secret")
    await storage.upload_file(src, "reports/r/other/x.csv", "text/csv")
    assert (tmp_path / "root" / "reports/r/other/x.csv").read_text() == "a,b\n1,2\n"
    assert not list((tmp_path / "root").rglob("*.part"))
    with pytest.raises(ValueError):
        await storage.upload_file(src, "../escape.csv", "text/csv")


async def test_s3_upload_file_streams_with_the_content_type(tmp_path):
    calls = []

    class FakeS3:
        def upload_file(self, filename, bucket, key, ExtraArgs):  # noqa: N803 - boto3's name
            calls.append((open(filename).read(), bucket, key, ExtraArgs))

    src = tmp_path / "f.xml"
    src.write_text("<r/>")
    await S3Storage("reports-bucket", client=FakeS3()).upload_file(src, "reports/r/nrp_91/saldo_cuenta.xml",
                                                                   "application/xml")
    assert calls == [("<r/>", "reports-bucket", "reports/r/nrp_91/saldo_cuenta.xml",
                      {"ContentType": "application/xml"})]
