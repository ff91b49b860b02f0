"""Sphinx configuration of the sb3_reinforce documentation (Markdown pages through myst-parser)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import sb3_reinforce  # noqa: E402

project = "sb3_reinforce"
author = "sb3_reinforce contributors"
copyright = "2026, sb3_reinforce contributors"
release = sb3_reinforce.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sourceref",
]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 4
exclude_patterns = ["_build", "benchmarks/runs", "**/runs"]

# Every reference must resolve (sphinx-build -n -W); the packages we build on publish no inventory
# this build can reach offline, so references into them are left unchecked, and only those
nitpicky = True
EXTERNAL_PACKAGES = (
    r"(stable_baselines3|sb3_contrib|rl_zoo3|gymnasium|gym|torch|th|numpy|np|optuna|envpool|spaces|nn"
    r"|collections|os|pathlib|typing|yaml|requests)"
)
nitpick_ignore_regex = [
    ("py:.*", EXTERNAL_PACKAGES + r"(\..*)?"),
    # SB3's type aliases, as their annotations spell them
    ("py:class", r"(BaseCallback|VecEnv)"),
    # The Self type variables of the algorithms' methods that return their instance
    ("py:class", r"sb3_reinforce\..*\.Self[A-Za-z]+"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = f"sb3_reinforce {release}"
