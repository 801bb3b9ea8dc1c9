"""Write a report's rows to its files as they arrive (one temporary file per output format), then
upload each file to document storage under ``reports/<run id>/<norm>/<friendly_name>.<ext>``."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from activities.storage import DocumentStorage
from domain.reports.catalogue import CONTENT_TYPES, ReportDefinition
from domain.reports.formats import RowWriter
from domain.reports.run import GeneratedFile

HEARTBEAT_EVERY = 10_000


async def write_report(d: ReportDefinition, run_id: str, rows: AsyncIterator[tuple], storage: DocumentStorage, *,
                       on_progress: Callable[[int], None] = lambda n: None) -> tuple[int, list[tuple[GeneratedFile, str]]]:
    """Stream ``rows`` into every output file of ``d``, upload them; the row count and the files
    (with their content types)."""
    with tempfile.TemporaryDirectory(prefix="lana-report-") as tmp:
        outs = []
        for fmt in d.outputs:
            local = Path(tmp) / f"{d.friendly_name}.{fmt.value}"
            writer = RowWriter(fmt, d.columns, root=d.friendly_name)
            fh = local.open("w", encoding="utf-8", newline="", buffering=1 << 16)
            fh.write(writer.header())
            outs.append((fmt, local, writer, fh))
        n = 0
        try:
            async for row in rows:
                for _, _, writer, fh in outs:
                    fh.write(writer.row(row))
                n += 1
                if n % HEARTBEAT_EVERY == 0:
                    on_progress(n)
            for _, _, writer, fh in outs:
                fh.write(writer.footer())
        finally:
            for *_, fh in outs:
                fh.close()
        files = []
        for fmt, local, _, _ in outs:
            path = d.path(run_id, fmt)
            await storage.upload_file(local, path, CONTENT_TYPES[fmt])
            files.append((GeneratedFile(extension=fmt.value, path_in_bucket=path, size_bytes=local.stat().st_size),
                          CONTENT_TYPES[fmt]))
        return n, files
