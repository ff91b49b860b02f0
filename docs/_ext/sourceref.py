"""
``{source}`` and ``{test}`` roles: links to a function of the repository that the build verifies.

``{test}`tests/test_gradient.py::test_name``` names a test (``file::function`` or
``file::Class::method``), ``{source}`sb3_reinforce/common/returns.py::discounted_returns``` a
definition in the source. The build fails (a warning, under ``-W``) when the file or the
definition does not exist, so a renamed test or function cannot leave a dead link behind.
"""

import ast
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent.parent
REPOSITORY = "https://github.com/sb3-reinforce/sb3_reinforce/blob/main"


def definition_line(path: Path, qualified_name: str) -> int | None:
    """The line of ``Class.method`` or ``function`` (``::``-separated) in ``path``, or None."""
    body: list[ast.stmt] = ast.parse(path.read_text()).body
    line = None
    for name in qualified_name.split("::"):
        found = [
            node
            for node in body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name
        ]
        if not found:
            return None
        line, body = found[0].lineno, found[0].body
    return line


def source_role(
    name: str, rawtext: str, text: str, lineno: int, inliner: Any, options: Any = None, content: Any = None
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    """Verify ``path::name`` and render it as a literal linked to its line in the repository."""
    path_text, _, qualified_name = text.partition("::")
    path = ROOT / path_text
    location = inliner.reporter.get_source_and_line(lineno)
    if not path.is_file():
        logger.warning("%s: no file %s", name, path_text, location=location)
        return [nodes.literal(rawtext, text)], []
    line = definition_line(path, qualified_name) if qualified_name else 1
    if line is None:
        logger.warning("%s: %s defines no %s", name, path_text, qualified_name.replace("::", "."), location=location)
        return [nodes.literal(rawtext, text)], []
    label = qualified_name.replace("::", ".") if qualified_name else path_text
    reference = nodes.reference(rawtext, "", refuri=f"{REPOSITORY}/{path_text}#L{line}")
    reference += nodes.literal(rawtext, label)
    return [reference], []


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_role("source", source_role)
    app.add_role("test", source_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
