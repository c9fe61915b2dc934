"""The package layout (docs/architecture.md): what importing a part loads, what each package
says.

The import rules themselves are import-linter contracts (pyproject.toml, ``make lint``);
these tests check what a Python process really loads.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

BOTIFY = Path(__file__).resolve().parents[1] / "botify"
WEB_STACK = ("flask", "flask_restful", "werkzeug", "gunicorn")
# Every module of a package, imported in a fresh interpreter; prints the web stack it loaded.
IMPORT_ALL = """
import importlib, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(module.name)
print(",".join(name for name in sys.argv[2:] if name in sys.modules))
"""


@pytest.mark.parametrize("package", ["botify.analysis", "botify.training", "botify.logs"])
def test_importing_analysis_training_or_logs_loads_no_web_stack(package):
    loaded = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, package, *WEB_STACK],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert loaded == ""


def test_the_web_package_does_load_it():
    # The check above would pass vacuously if the probe could not see the web stack.
    loaded = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, "botify.web", *WEB_STACK],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert set(loaded.split(",")) == set(WEB_STACK) - {"gunicorn"}


def test_few_modules_are_loose_and_every_package_says_what_is_inside():
    loose = sorted(path.name for path in BOTIFY.glob("*.py"))
    packages = sorted(path.parent for path in BOTIFY.glob("*/__init__.py"))

    assert loose == ["__init__.py", "__main__.py", "cli.py", "config.py"]
    assert [p.name for p in packages] == [
        "analysis",
        "data",
        "experiments",
        "logs",
        "recommenders",
        "rollout",
        "serving",
        "state",
        "training",
        "web",
    ]
    for package in packages:
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        modules = {path.stem for path in package.glob("*.py")} - {"__init__"}
        assert docstring and all(f"``{module}``" in docstring for module in modules), package
