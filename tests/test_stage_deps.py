"""Every stage's dvc.yaml deps cover the code it runs: the import closure of its pipeline script
inside the mascot package. A module missing from the deps is a change DVC would not see, and a
stale result `dvc repro` would keep."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

# modules that cannot change a stage's outputs, so editing them must not re-run hours of compute:
# params are tracked by value (config.py only parses and validates them, yaml_files.py the other
# YAML files, whose contents are deps of their own), a table the schemas accept
# is written unchanged, and the others parse arguments, log progress, and look names up
EXEMPT = {"mascot/__init__.py", "mascot/config.py", "mascot/yaml_files.py", "mascot/schemas.py", "mascot/stage.py",
          "mascot/registry.py", "mascot/progress.py"}
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> Path | None:
    base = REPO / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


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
                root = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([root] if root else []))
            names.add(root)
            names |= {f"{root}.{a.name}" for a in node.names}  # `from mascot.eval import mbti` imports a module
    return {n for n in names if n.split(".")[0] == "mascot"}


def closure(script: Path) -> set[str]:
    """Repo-relative files of every mascot module the script reaches.
    Not followed: what an exempt module imports (it imports to validate names, not to compute),
    and a parent package's __init__ that an import only passes through (`mascot.data.sampling`
    runs mascot/data/__init__, whose re-exports compute nothing for the importer)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        for name in imported(path):
            found = module_file(name)
            if found and found not in seen:
                seen.add(found)
                if found.relative_to(REPO).as_posix() not in EXEMPT:
                    todo.append(found)
    return {p.relative_to(REPO).as_posix() for p in seen}


def covered(file: str, deps: list[str]) -> bool:
    return any(file == d or file.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stages_deps_cover_its_code(stage):
    spec = STAGES[stage]
    script = re.search(r"-m (pipeline\.\w+)", spec["cmd"]).group(1)
    deps = [d if isinstance(d, str) else next(iter(d)) for d in spec.get("deps", [])]
    assert f"{script.replace('.', '/')}.py" in deps, f"{stage}: its own script is not a dep"
    missing = sorted(f for f in closure(module_file(script)) - EXEMPT if not covered(f, deps))
    assert missing == [], f"dvc.yaml stage '{stage}' runs {missing} without listing them in deps"


def test_the_closure_follows_imports_but_not_packages_passed_through():
    files = closure(REPO / "pipeline/evaluate.py")
    assert {"mascot/eval/evaluate.py", "mascot/eval/systems.py", "mascot/judge/rubric.py", "mascot/resume.py"} <= files
    assert "mascot/chat/engine.py" in files  # reached through systems.py, not imported by the script itself
    assert "mascot/data/__init__.py" not in files and "mascot/app/server.py" not in files


def test_the_committed_lock_is_what_the_committed_code_produces():
    """dvc.lock, metrics and plots come from this commit's code, params and data: run `dvc repro` and commit
    them with any change to a stage's deps (`mascot lock-status` says which stage is behind)."""
    from mascot.lock_status import lock_problems

    assert lock_problems(REPO) == {}
