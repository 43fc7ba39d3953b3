"""Every stage's dvc.yaml deps are the code it runs: the import closure of its pipeline script
inside the mascot package. A module missing from the deps is a change DVC would not see, and a
stale result `dvc repro` would keep; a module listed that the stage never runs re-runs it for nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .conftest import REPO
from .module_graph import imported, module_file, registered

# modules that cannot change a stage's outputs, so editing them must not re-run hours of compute:
# params are tracked by value (config.py only parses and validates them, yaml_files.py the other
# YAML files, whose contents are deps of their own), a table the schemas accept
# is written unchanged, and the others parse arguments, log progress, and look names up or list them
EXEMPT = {
    "mascot/__init__.py",
    "mascot/config.py",
    "mascot/yaml_files.py",
    "mascot/schemas.py",
    "mascot/stage.py",
    "mascot/registry.py",
    "mascot/progress.py",
    "mascot/choices.py",
}
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def closure(script: Path) -> set[str]:
    """Repo-relative files of every mascot module the script reaches, through imports and through
    the implementations a registry names ("module:attr", imported when one is asked for).
    Not followed: what an exempt module imports (it imports to validate names, not to compute),
    and a parent package's __init__ that an import only passes through (`mascot.data.sampling`
    runs mascot/data/__init__, whose re-exports compute nothing for the importer)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        for name in imported(path) | registered(path):
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


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stage_lists_no_code_it_does_not_run(stage):
    """A listed module the script never reaches would re-run the stage (hours of compute, maybe) whenever it
    is edited. A folder may list the __init__.py of a package the stage imports a module of: Python runs it."""
    spec = STAGES[stage]
    reached = closure(module_file(re.search(r"-m (pipeline\.\w+)", spec["cmd"]).group(1)))
    code = [d if isinstance(d, str) else next(iter(d)) for d in spec.get("deps", [])]
    listed = [
        f.relative_to(REPO).as_posix()
        for d in code if d.startswith("mascot/")
        for f in ((REPO / d).rglob("*.py") if (REPO / d).is_dir() else [REPO / d])
    ]  # fmt: skip
    stale = sorted(
        f for f in listed
        if f not in reached and not (f.endswith("/__init__.py") and any(covered(r, [f.rpartition("/")[0]]) for r in reached))
    )  # fmt: skip
    assert stale == [], f"dvc.yaml stage '{stage}' lists {stale} in deps, which its script does not reach"


def test_the_closure_follows_imports_but_not_packages_passed_through():
    files = closure(REPO / "pipeline/evaluate.py")
    assert {"mascot/eval/evaluate.py", "mascot/eval/systems.py", "mascot/judge/rubric.py", "mascot/resume.py"} <= files
    assert "mascot/chat/engine.py" in files  # reached through systems.py, not imported by the script itself
    assert "mascot/data/__init__.py" not in files and "mascot/app/server.py" not in files
    # a registry's implementations are named, not imported: the stage may run them all the same
    assert {"mascot/llm/transformers_backend.py", "mascot/judge/openai_judge.py"} <= files


def test_the_committed_lock_is_what_the_committed_code_produces():
    """dvc.lock, metrics and plots come from this commit's code, params and data: run `dvc repro` and commit
    them with any change to a stage's deps (`mascot lock-status` says which stage is behind)."""
    from mascot.lock_status import lock_problems

    assert lock_problems(REPO) == {}
