"""Ledger benchmark (not a test): ``python -m tests.bench.ledger_bench [seconds]`` or ``lana bench ledger``.

The implementation lives in ``workers/bench_ledger.py`` so the installed ``lana`` CLI can run it.
"""

import sys

from workers.bench_ledger import run

if __name__ == "__main__":
    run(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
