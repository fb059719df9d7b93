"""The read layer answers data, never HTTP: no selector module imports ``django.http`` or
``django.shortcuts`` (a selector returns a queryset or None; the view decides on a 404)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["marketplace", "sellers", "buyers", "subscriptions", "payouts"]


def http_imports(path: Path) -> list[str]:
    """``file:line module`` of each import of django.http / django.shortcuts in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [
            f"{path.name}:{node.lineno} {name}"
            for name in names
            if name.startswith(("django.http", "django.shortcuts"))
        ]
    return found


def selector_modules() -> list[Path]:
    paths = []
    for app in APPS:
        paths += (ROOT / app).rglob("selectors.py")
        paths += (ROOT / app).rglob("selectors/*.py")
    return sorted(paths)


def test_no_selector_speaks_http():
    modules = selector_modules()
    assert len(modules) >= 4  # sellers, buyers, payouts, the audit log at least
    assert [hit for path in modules for hit in http_imports(path)] == []


def test_the_check_sees_an_http_import(tmp_path):
    bad = tmp_path / "selectors.py"
    bad.write_text("import django.shortcuts\nfrom django.http import Http404\n")
    assert http_imports(bad) == ["selectors.py:1 django.shortcuts", "selectors.py:2 django.http"]
