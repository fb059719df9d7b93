"""The import contracts in pyproject.toml (run by `make check` through `lint-imports`) hold on the
real tree, and break, naming the offending import, when a copy of the tree crosses them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = [
    "project",
    "demo",
    "payouts",
    "subscriptions",
    "buyers",
    "sellers",
    "marketplace",
    "sandbox",
]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_real_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_a_copy_that_crosses_the_contracts_fails(tmp_path):
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    # The core reaching up into an app, a seller module calling Stripe's SDK directly, a buyers
    # module reaching into the sandbox, the sandbox importing our money code.
    (tmp_path / "marketplace" / "crossing.py").write_text("from payouts import models\n")
    (tmp_path / "sellers" / "crossing.py").write_text("import stripe\n")
    (tmp_path / "buyers" / "crossing.py").write_text("from sandbox import store\n")
    (tmp_path / "sandbox" / "crossing.py").write_text("from marketplace import money\n")
    # Subscriptions sit below payouts: reaching up into the ledger breaks the layers too.
    (tmp_path / "subscriptions" / "crossing.py").write_text("from payouts import models\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "0 kept, 4 broken" in out, out
    assert "marketplace.crossing -> payouts.models" in out
    assert "sellers.crossing -> stripe" in out
    assert "buyers.crossing -> sandbox.store" in out
    assert "sandbox.crossing -> marketplace.money" in out
    assert "subscriptions.crossing -> payouts.models" in out
