"""The mascot package's imports read from source with ast (imports inside functions count too):
what tests/test_stage_deps.py follows to a stage's code and tests/test_layers.py checks the layers on."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import REPO

# a registry's "module:attr" reference (mascot.registry.import_ref)
REFERENCE = re.compile(r"(mascot(?:\.\w+)+):\w+")


def module_file(name: str) -> Path | None:
    base = REPO / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    """``mascot/chat/engine.py`` → ``mascot.chat.engine``; a package's ``__init__.py`` → the package."""
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def imported(path: Path) -> set[str]:
    """Names of the mascot modules one file imports, wherever the import sits (lazy ones too)."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.removesuffix(".__init__")
    else:
        package = package.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            root = node.module or ""
            if node.level:
                root = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([root] if root else [])
                )
            names.add(root)
            names |= {f"{root}.{a.name}" for a in node.names}  # `from mascot.eval import mbti` imports a module
    return {n for n in names if n.split(".")[0] == "mascot"}


def registered(path: Path) -> set[str]:
    """Modules one file names in "module:attr" strings: a registry's implementations, imported only when
    one is asked for. Not an import (no layer or cycle edge), but code the registry's user may run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        m.group(1)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and (m := REFERENCE.fullmatch(node.value))
    }
