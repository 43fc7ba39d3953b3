"""Is the committed dvc.lock what the committed code, params and data produce?

A fresh clone has the code, params and metrics but no cached outputs. There `dvc status` may report
outputs "not in cache" and the deps that are other stages' outputs "deleted"; anything else (a
modified code dep, changed params or command, a metrics file that is not the one the lock recorded)
means the lock, metrics and plots came from other code than the commit's.
"""

from __future__ import annotations

from pathlib import Path

ABSENT = {"deleted", "not in cache"}


def lock_problems(repo: str | Path = ".") -> dict[str, list[str]]:
    """stage → what in it differs from dvc.lock, for every stage that is not current."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        status = dvc.status()
    problems: dict[str, list[str]] = {}
    for key, changes in status.items():
        stage = key.rsplit(":", 1)[-1]  # "dvc.yaml:stage" when the repo is not the working directory
        found: dict[str, list[str]] = {}
        for change in changes:
            if isinstance(change, str):  # "changed command", "always changed"
                found.setdefault(change, [])
                continue
            for kind, entries in change.items():
                for path, state in entries.items():
                    if isinstance(state, dict):  # params.yaml: {section: state}
                        found.setdefault("changed params", []).extend(state)
                    elif state not in ABSENT:
                        found.setdefault(f"{kind} ({state})", []).append(path)
        if found:
            problems[stage] = [f"{kind}: {', '.join(paths)}" if paths else kind for kind, paths in found.items()]
    return problems


def report(repo: str | Path = ".") -> tuple[bool, str]:
    problems = lock_problems(repo)
    if not problems:
        return (
            True,
            "dvc.lock, metrics and plots match the code, params and data (outputs may be absent from the cache)",
        )
    lines = [f"{stage}: " + "; ".join(found) for stage, found in problems.items()]
    return False, (
        "dvc.lock is not what the committed code produces; run `dvc repro` and commit dvc.lock, metrics and plots:\n  "
        + "\n  ".join(lines)
    )
