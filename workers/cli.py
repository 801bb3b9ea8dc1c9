"""The `lana` command line."""

from __future__ import annotations

import asyncio
import sys

import click

from ground.settings import get_settings


def _configure_logging() -> None:
    from workers.logging_setup import configure

    s = get_settings()
    configure(s.log_level, s.json_logs)


@click.group()
def main() -> None:
    """Lana: a banking core for Bitcoin-backed lending."""


@main.command()
@click.option("--data-dir", type=click.Path(), default=None, help="Data directory (default .lana/)")
@click.option("--api-port", type=int, default=None)
@click.option("--temporal-port", type=int, default=None)
@click.option("--ui-port", type=int, default=None)
@click.option("--postgres-port", type=int, default=None)
@click.option("--simulated-time", is_flag=True,
              help="A simulated business clock (LANA_CLOCK_MODE=simulated): days pass only when "
                   "POST /api/v1/time/advance-to-next-end-of-day is called, each running its end of day")
@click.option("--simulated-start", default=None, metavar="INSTANT",
              help="Where a new simulated clock starts, e.g. 2025-01-15T10:00:00Z (implies --simulated-time; "
                   "LANA_SIMULATED_CLOCK_START; ignored once the data directory has a clock)")
def dev(data_dir, api_port, temporal_port, ui_port, postgres_port, simulated_time, simulated_start) -> None:
    """Start the whole bank on embedded defaults (PostgreSQL, Temporal + UI, worker, API)."""
    from workers.dev import DevOptions, run_dev

    s = get_settings()
    opts = DevOptions.from_settings(s, data_dir=data_dir, api_port=api_port, temporal_port=temporal_port,
                                    ui_port=ui_port, postgres_port=postgres_port)
    opts.simulated_time = simulated_time or simulated_start is not None
    if simulated_start is not None:
        from ground.settings import Settings

        try:  # the setting's own check (an instant with its offset), before anything starts
            Settings(simulated_clock_start=simulated_start)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--simulated-start") from exc
        opts.env["LANA_SIMULATED_CLOCK_START"] = simulated_start
    sys.exit(run_dev(opts))


@main.command()
def api() -> None:
    """Run the HTTP API (uvicorn)."""
    import uvicorn

    from api.app import create_app

    _configure_logging()
    s = get_settings()
    uvicorn.run(create_app(s), host=s.api_host, port=s.api_port, log_config=None,
                proxy_headers=True, access_log=False)


@main.command()
def worker() -> None:
    """Run a Temporal worker."""
    from workers import worker as w

    _configure_logging()
    asyncio.run(w.run(get_settings()))


@main.command()
@click.option("--skip-temporal", is_flag=True, help="Only migrate the database")
def migrate(skip_temporal: bool) -> None:
    """Apply database migrations and register search attributes (idempotent)."""
    from workers.migrate import run_migrate

    _configure_logging()
    asyncio.run(run_migrate(get_settings(), temporal=not skip_temporal))


@main.group()
def bench() -> None:
    """Benchmarks: print figures, never assert them."""


@bench.command("ledger")
@click.option("--seconds", type=float, default=10.0, show_default=True, help="Duration of each cell")
@click.option("--clients", default="1,8,32", show_default=True, help="Comma-separated poster counts")
@click.option("--batch-sizes", default="100,1000", show_default=True,
              help="Comma-separated post_many sizes for the batch cases (empty: none)")
@click.option("--compare-revision", default=None,
              help="Also run the single-posting cells on a database migrated down to this revision "
                   "(e.g. 0011_ledger_post_lean), interleaved: before/after in one run")
def bench_ledger(seconds: float, clients: str, batch_sizes: str, compare_revision: str | None) -> None:
    """Ledger postings/s and p50/p99 vs pgbench simple-update (same server, durability on)."""
    from workers.bench_ledger import run

    run(seconds, tuple(int(c) for c in clients.split(",")), echo=click.echo,
        batch_sizes=tuple(int(b) for b in batch_sizes.split(",") if b), compare_revision=compare_revision)


@bench.command("classify")
@click.option("--customers", "n", type=int, default=100_000, show_default=True)
@click.option("--page-size", type=int, default=1000, show_default=True)
@click.option("--pages-per-run", type=int, default=200, show_default=True,
              help="Pages per workflow run before continue-as-new")
def bench_classify(n: int, page_size: int, pages_per_run: int) -> None:
    """Create N customers and classify them: customers/s and peak RSS."""
    from workers.bench_classify import run_bench

    run_bench(n, page_size, pages_per_run)


@bench.command("credit")
@click.option("--facilities", "n", type=int, default=200, show_default=True)
@click.option("--concurrency", type=int, default=20, show_default=True, help="Facilities in flight at once")
@click.option("--wait", type=click.Choice(["stream", "poll", "both"]), default="stream", show_default=True,
              help="How the client waits for a step: the resource's event stream, a poll every 50 ms, or "
                   "both (one run each, same stack)")
def bench_credit(n: int, concurrency: int, wait: str) -> None:
    """N facilities proposal → approval → collateral → activation → one disbursal vs a skeleton of no-op steps."""
    from workers.bench_credit import run_bench

    run_bench(n, concurrency, echo=click.echo, waits=("poll", "stream") if wait == "both" else (wait,))


@bench.command("api")
@click.option("--seconds", type=float, default=20.0, show_default=True, help="Duration of each client level")
@click.option("--clients", default="8,32", show_default=True, help="Comma-separated concurrent client counts")
@click.option("--customers", type=int, default=200, show_default=True, help="Customers seeded (with deposit accounts)")
@click.option("--facilities", type=int, default=20, show_default=True, help="Active facilities seeded")
@click.option("--route-cost", type=int, default=0, show_default=True,
              help="First each route alone: N sequential requests, p50 and CPU ms per request by process")
def bench_api(seconds: float, clients: str, customers: int, facilities: int, route_cost: int) -> None:
    """A mix of operator reads and writes at 8 and 32 clients: requests/s, p50/p99 per route."""
    from workers.bench_api import run_bench

    run_bench(tuple(int(c) for c in clients.split(",")), seconds, customers, facilities, echo=click.echo,
              route_cost=route_cost)


@bench.command("stream")
@click.option("--clients", type=int, default=1000, show_default=True, help="Open SSE streams (GET /price/stream)")
@click.option("--seconds", type=float, default=30.0, show_default=True, help="Price changes, one per second")
def bench_stream(clients: int, seconds: float) -> None:
    """N open price streams on one API process, the price changing every second: delivery p50/p99, API RSS and CPU."""
    from workers.bench_stream import run_bench

    run_bench(clients, seconds, echo=click.echo)


@bench.command("eod-steps")
@click.option("--facilities", "n", type=int, default=10_000, show_default=True)
@click.option("--page-sizes", default="500,1000", show_default=True,
              help="Comma-separated page sizes, alternated over the ordinary days")
def bench_eod_steps(n: int, page_sizes: str) -> None:
    """The end-of-day steps on N facilities (run_page, no workflow): entities/s per step and day."""
    from workers.bench_eod_steps import run_bench

    run_bench(n, [int(p) for p in page_sizes.split(",")])


@bench.command("eod")
@click.option("--facilities", "n", type=int, default=100_000, show_default=True)
@click.option("--page-size", type=int, default=1000, show_default=True)
@click.option("--month-end", is_flag=True, help="Also run the dates to the month end (cycle completion)")
@click.option("--days", type=click.IntRange(1, 4), default=1, show_default=True, help="Ordinary days (Jan 27–30)")
@click.option("--pages-in-flight", default="3", show_default=True,
              help="Comma-separated end_of_day_pages_in_flight values, alternated over the dates")
def bench_eod(n: int, page_size: int, month_end: bool, days: int, pages_in_flight: str) -> None:
    """One business date's end of day for N facilities through the EndOfDay workflow, one worker."""
    from workers.bench_eod import run_bench

    run_bench(n, page_size, month_end, [int(k) for k in pages_in_flight.split(",")], days)


@bench.command("reports")
@click.option("--facilities", "sizes", default="100000", show_default=True,
              help="Facilities (with accruals and a payment each); comma-separated sizes are run in turn")
def bench_reports(sizes: str) -> None:
    """Every report over N facilities: rows, seconds and peak RSS per report (asserts nothing)."""
    from workers.bench_reports import run_bench

    run_bench([int(s) for s in sizes.split(",")])


@bench.command("price-shock")
@click.option("--facilities", "n", type=int, default=100_000, show_default=True)
@click.option("--drops", type=int, default=1, show_default=True,
              help="Price drops of 20 %, each after a return to the start price")
@click.option("--concurrency", "concurrency", default="2", show_default=True,
              help="Pages in flight, comma-separated: the drops alternate between them")
def bench_price_shock(n: int, drops: int, concurrency: str) -> None:
    """A 20 % BTC price drop over N active facilities: seconds to the last state change, changes, RSS."""
    from workers.bench_price_shock import run_bench

    run_bench(n, drops, [int(c) for c in concurrency.split(",")])


@bench.command("dashboard")
@click.option("--facilities", "n", type=int, default=100_000, show_default=True)
@click.option("--rounds", type=int, default=4, show_default=True, help="Rounds, alternating index on / off")
@click.option("--repeats", type=int, default=10, show_default=True, help="Calls of each read per round")
def bench_dashboard(n: int, rounds: int, repeats: int) -> None:
    """One poll of the dashboard and portfolio reads on N facilities, with and without index 0102."""
    from workers.bench_dashboard import run_bench

    run_bench(n, rounds, repeats)


@bench.command("audit")
@click.option("--requests", "n", type=int, default=3000, help="Requests per run")
@click.option("--concurrency", type=int, default=16)
def bench_audit(n: int, concurrency: int) -> None:
    """Authorized reads per second through the API, with auditing on and off."""
    from workers.bench_audit import main as run

    asyncio.run(run(n, concurrency))


from workers.access_cli import audit, token  # noqa: E402

main.add_command(token)
from workers.custody_cli import custody  # noqa: E402

main.add_command(custody)
main.add_command(audit)


if __name__ == "__main__":
    main()
