"""Document storage adapters: a local directory (default) or an S3-compatible bucket (boto3).

Operations (custody-price-reports.md §5.1): ``upload``, ``remove``, ``download_link``. Local links
point at the API's ``/local-storage/{base64url(path)}?expires=&sig=`` route, signed with
HMAC-SHA256 over ``"{path}:{expires}"``; S3 links are presigned by boto3.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from domain.customers.documents import link_signature
from ground.secrets import required_secret


class DocumentStorage(Protocol):
    identifier: str

    async def upload(self, data: bytes, path: str, content_type: str) -> None: ...
    async def upload_file(self, source: Path, path: str, content_type: str) -> None: ...
    async def remove(self, path: str) -> None: ...
    def download_link(self, path: str, ttl_seconds: int, now: float) -> tuple[str, int]: ...


def encode_path(path: str) -> str:
    return base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")


def decode_path(encoded: str) -> str:
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


class LocalStorage:
    def __init__(self, root: Path, base_url: str, secret: str) -> None:
        self.root = root.resolve()
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.identifier = f"local:{self.root}"

    def resolve(self, path: str) -> Path | None:
        """The file for ``path``, or None when the path would escape the root."""
        if not path or path.startswith("/") or ".." in Path(path).parts:
            return None
        full = (self.root / path).resolve()
        return full if full.is_relative_to(self.root) else None

    async def upload(self, data: bytes, path: str, content_type: str) -> None:
        await self._place(path, lambda tmp: tmp.write_bytes(data))

    async def upload_file(self, source: Path, path: str, content_type: str) -> None:
        """``upload`` of a file on disk, copied in chunks (a large report never sits in memory)."""
        await self._place(path, lambda tmp: shutil.copyfile(source, tmp))

    async def _place(self, path: str, fill: Callable[[Path], object]) -> None:
        """Write ``path`` atomically: ``fill`` writes a ``.part`` file beside it, which then replaces it."""
        target = self.resolve(path)
        if target is None:
            raise ValueError(f"invalid storage path {path!r}")

        def _write() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".part")
            fill(tmp)
            tmp.replace(target)

        await asyncio.to_thread(_write)

    async def remove(self, path: str) -> None:
        target = self.resolve(path)
        if target is not None:
            await asyncio.to_thread(target.unlink, True)

    def download_link(self, path: str, ttl_seconds: int, now: float) -> tuple[str, int]:
        expires = int(now) + ttl_seconds
        sig = link_signature(self.secret, path, expires)
        return f"{self.base_url}/local-storage/{encode_path(path)}?expires={expires}&sig={sig}", expires


class S3Storage:
    """Any S3-compatible bucket through boto3 (optional extra ``lana[s3]``); ambient credentials."""

    def __init__(self, bucket: str, client=None) -> None:
        if client is None:
            import boto3  # optional dependency

            client = boto3.client("s3")
        self.client = client
        self.bucket = bucket
        self.identifier = f"s3:{bucket}"

    async def upload(self, data: bytes, path: str, content_type: str) -> None:
        await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=path, Body=data,
                                ContentType=content_type)

    async def upload_file(self, source: Path, path: str, content_type: str) -> None:
        """A file on disk, streamed by boto3 (multipart for large files)."""
        await asyncio.to_thread(self.client.upload_file, str(source), self.bucket, path,
                                ExtraArgs={"ContentType": content_type})

    async def remove(self, path: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=path)

    def download_link(self, path: str, ttl_seconds: int, now: float) -> tuple[str, int]:
        url = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": path}, ExpiresIn=ttl_seconds)
        return url, int(now) + ttl_seconds


def build_storage(settings) -> DocumentStorage:
    if settings.documents_storage == "s3":
        return S3Storage(settings.documents_bucket)
    return LocalStorage(settings.documents_root, settings.base_url, document_link_secret(settings))


def document_link_secret(settings) -> str:
    """The local-storage link secret (``ValueError`` in production when missing or short)."""
    return required_secret(settings, settings.documents_link_secret, "LANA_DOCUMENTS_LINK_SECRET",
                           "documents-link-secret")
