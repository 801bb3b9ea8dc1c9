"""The import layers (``[tool.importlinter]`` in pyproject.toml) hold, and a back edge is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("ground", "domain", "workflows", "activities", "api", "workers")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.prefix, "bin", "lint-imports")), "--no-cache"], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def contract_lines(out: str) -> dict[str, str]:
    """{contract name: KEPT | BROKEN} from lint-imports' summary."""
    return {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in out.splitlines()
            if line.endswith((" KEPT", " BROKEN"))}


def test_the_layers_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(contract_lines(result.stdout).values()) == {"KEPT"}


def test_a_back_edge_breaks_its_contract(tmp_path):
    ignore = shutil.ignore_patterns("__pycache__")
    for layer in LAYERS:
        shutil.copytree(ROOT / layer, tmp_path / layer, ignore=ignore)
    (tmp_path / "tests").mkdir()
    for name in ("__init__.py", "import_contracts.py"):
        shutil.copy(ROOT / "tests" / name, tmp_path / "tests" / name)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "domain" / "back_edge.py").write_text("from workers import cli  # noqa: F401\n")
    (tmp_path / "workflows" / "back_edge.py").write_text("from activities.event_store import events  # noqa\n")

    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    contracts = contract_lines(result.stdout)
    broken = {name for name, verdict in contracts.items() if verdict == "BROKEN"}
    assert broken == {"domain is pure: no other layer, no I/O library",
                      "workflows reach activities only through their Temporal adapters"}, result.stdout
    assert "domain.back_edge -> workers.cli" in result.stdout
    assert "workflows.back_edge -> activities.event_store" in result.stdout
