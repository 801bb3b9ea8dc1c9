"""`lana dev` end to end: start on free ports, become ready, stop cleanly, leave no orphans."""

import os
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from workers.embedded_pg import free_port


def _start(tmp_path, ports, *extra):
    # fixed price: the dev stack's price feed must not call the real Bitfinex from tests
    env = {**os.environ, "LANA_LOG_LEVEL": "WARNING", "LANA_PRICE_SOURCE": "fixed",
           "LANA_PRICE_FIXED_USD_CENTS_PER_BTC": "7000000"}
    return subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "dev", "--data-dir", str(tmp_path / "data"),
         "--api-port", str(ports[0]), "--temporal-port", str(ports[1]), "--ui-port", str(ports[2]),
         "--postgres-port", str(ports[3]), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wait_ready(proc, port, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail("lana dev did not become ready")


def _stop_and_check(proc):
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 4  # postgres, temporal, worker, api
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"orphans: {alive}"
    return out


def test_lana_token_without_the_dev_stack_key_fails_with_the_reason(tmp_path):
    """Regression (new-user #9): outside the repository it created a new key and printed a token the
    API then refused with a bare "Invalid token"."""
    lana = os.path.join(os.path.dirname(sys.executable), "lana")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LANA_")}, "LANA_AUTH_DEV_SIGNING": "true"}
    r = subprocess.run([lana, "token", "admin@lana.local"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "no development signing key" in r.stderr and "LANA_DATA_DIR" in r.stderr
    assert not (tmp_path / ".lana").exists()  # nothing created


@pytest.mark.slow
def test_dev_starts_restarts_and_stops_cleanly(tmp_path):
    ports = [free_port() for _ in range(4)]
    proc = _start(tmp_path, ports)
    _wait_ready(proc, ports[0])
    out = _stop_and_check(proc)
    assert "Temporal Web UI" in out and "created PostgreSQL cluster" in out

    # A second start resumes the same data directory (no new cluster), on a simulated clock.
    proc = _start(tmp_path, ports, "--simulated-time")
    _wait_ready(proc, ports[0])
    printed = ""
    for line in proc.stdout:
        printed += line
        if "admin token" in line:
            break
    command = printed.split("admin token", 1)[1].strip()
    # runs as printed, from any directory (regression, new-user #9)
    made = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if not k.startswith("LANA_")})
    assert made.returncode == 0, made.stderr
    me = httpx.get(f"http://127.0.0.1:{ports[0]}/api/v1/me", timeout=10,
                   headers={"Authorization": f"Bearer {made.stdout.strip()}"})
    assert me.status_code == 200 and me.json()["user"]["email"] == "admin@lana.local", me.text
    auth = {"Authorization": f"Bearer {made.stdout.strip()}"}
    clock = httpx.get(f"http://127.0.0.1:{ports[0]}/api/v1/time", timeout=10, headers=auth).json()
    assert (clock["clock"], clock["can_advance"]) == ("SIMULATED", True), clock
    advanced = httpx.post(f"http://127.0.0.1:{ports[0]}/api/v1/time/advance-to-next-end-of-day", timeout=60,
                          headers=auth)  # the real worker runs the date's EndOfDay (schedule paused)
    assert advanced.status_code == 200, advanced.text
    assert clock["business_date"] in [e["business_date"] for e in advanced.json()["end_of_days"]]
    out = printed + _stop_and_check(proc)
    assert "created PostgreSQL cluster" not in out
    assert (tmp_path / "data" / "temporal.db").exists()


def test_dev_refuses_a_taken_port(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        ports = [taken, free_port(), free_port(), free_port()]
        proc = _start(tmp_path, ports)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert f"API port {taken}" in out
