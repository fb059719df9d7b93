"""The documentation stays true: every environment variable the settings read is documented,
and no file in the repository points to documents outside it."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_READERS = {"env_str", "env_bool", "env_int", "env_list"}


def _env_variables_read(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ENV_READERS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def test_every_environment_variable_the_settings_read_is_in_operations_md():
    read = _env_variables_read(ROOT / "marketplace" / "settings.py")
    assert len(read) > 40  # the parser found the settings' variables, not nothing
    documented = (ROOT / "docs" / "operations.md").read_text()
    missing = sorted(name for name in read if f"`{name}`" not in documented)
    assert not missing, f"not in docs/operations.md: {missing}"


def test_readme_is_a_front_door_and_its_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert "make demo" in readme and "make test" in readme
    for target in [
        "docs/architecture.md",
        "docs/money.md",
        "docs/sandbox.md",
        "docs/operations.md",
        "docs/security.md",
        "docs/img/catalogue.png",
    ]:
        assert f"({target})" in readme, target
        assert (ROOT / target).is_file(), target


def test_every_docs_page_the_repository_points_to_exists():
    import re

    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    pointed = set()
    for name in files:
        path = ROOT / name
        if path.is_file() and path.suffix in {".py", ".md", ".yml", ".html", ".toml", ""}:
            pointed |= set(re.findall(r"docs/[a-z_]+\.md", path.read_text(errors="ignore")))
    assert "docs/operations.md" in pointed
    missing = sorted(page for page in pointed if not (ROOT / page).is_file())
    assert not missing, missing


def _slug(heading: str) -> str:
    import re

    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def test_links_between_the_docs_resolve_to_a_page_and_a_heading():
    import re

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target, anchor in re.findall(r"\]\(([\w./-]*\.md)?(?:#([\w-]+))?\)", page.read_text()):
            linked = (page.parent / target).resolve() if target else page
            if not linked.is_file():
                broken.append(f"{page.name}: {target}")
                continue
            if anchor:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
                if anchor not in {_slug(h) for h in headings}:
                    broken.append(f"{page.name}: {target}#{anchor}")
    assert not broken, broken
