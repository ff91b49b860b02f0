"""The docs' ``{source}`` and ``{test}`` links are checked by the build: a link to nothing fails it."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("myst_parser")

EXTENSION = Path(__file__).parent.parent / "docs" / "_ext" / "sourceref.py"
spec = importlib.util.spec_from_file_location("sourceref", EXTENSION)
assert spec is not None and spec.loader is not None
sourceref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sourceref)

REINFORCE_FILE = Path(__file__).parent.parent / "sb3_reinforce" / "reinforce" / "reinforce.py"


def test_definition_line_finds_functions_and_methods() -> None:
    assert sourceref.definition_line(Path(__file__), "test_definition_line_finds_functions_and_methods") is not None
    line = sourceref.definition_line(REINFORCE_FILE, "REINFORCE::train")
    assert line is not None and "def train" in REINFORCE_FILE.read_text().splitlines()[line - 1]
    assert sourceref.definition_line(REINFORCE_FILE, "REINFORCE::no_such_method") is None
    assert sourceref.definition_line(REINFORCE_FILE, "train") is None  # a method is named through its class


def build(tmp_path: Path, page: str) -> subprocess.CompletedProcess[str]:
    """Build a one-page site with the extension, warnings as errors."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(EXTENSION.parent)!r})\nextensions = ['myst_parser', 'sourceref']\n"
    )
    (source / "index.md").write_text(page)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "-q", str(source), str(tmp_path / "html")]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_a_link_to_an_existing_test_builds(tmp_path: Path) -> None:
    result = build(tmp_path, "# Page\n\n{test}`tests/test_returns.py::test_returns_match_brute_force`\n")
    assert result.returncode == 0, result.stderr
    assert "tests/test_returns.py#L" in (tmp_path / "html" / "index.html").read_text()


@pytest.mark.parametrize(
    "link",
    ["tests/test_returns.py::test_that_was_renamed", "tests/no_such_file.py::test_x", "sb3_reinforce/common/returns.py::nope"],
)
def test_a_link_to_nothing_fails_the_build(tmp_path: Path, link: str) -> None:
    result = build(tmp_path, f"# Page\n\n{{test}}`{link}`\n")
    assert result.returncode != 0
    assert link.split("::")[0] in result.stderr


def test_the_docs_pages_that_messages_and_docstrings_name_exist() -> None:
    root = Path(__file__).parent.parent
    named = {
        match
        for path in (root / "sb3_reinforce").rglob("*.py")
        for match in re.findall(r"docs/[\w/.-]+?\.md", path.read_text())
    }
    assert "docs/guide/recipes.md" in named
    assert [page for page in sorted(named) if not (root / page).is_file()] == []
