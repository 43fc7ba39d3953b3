"""The lock (requirements/*.txt, written by `make lock`) agrees with pyproject.toml: every dependency is
pinned within its range, nothing else is, and the test lock holds the main one's versions."""

from __future__ import annotations

import importlib.metadata
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def pins(lock: str) -> dict[str, tuple[str, set[str]]]:
    """name → (version, extras) of every ``name[extras]==version`` line of a lock file."""
    out = {}
    for line in (REPO / "requirements" / lock).read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"requirements/{lock}: {line!r} is not a pin"
            out[canonicalize_name(req.name)] = (spec.version, set(req.extras))
    return out


def declared(extra: str | None) -> list[Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["dependencies"]]
    return reqs + [Requirement(r) for r in PYPROJECT["optional-dependencies"][extra]] if extra else reqs


def closure(reqs: list[Requirement]) -> set[str]:
    """The packages ``reqs`` need on this interpreter, transitively, read from the installed packages' metadata."""
    needed: dict[str, set[str]] = {}
    todo = [(req, {""}) for req in reqs]
    while todo:
        req, active_extras = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": extra}) for extra in active_extras):
            continue
        name = canonicalize_name(req.name)
        if name in needed and req.extras <= needed[name]:
            continue
        needed[name] = needed.get(name, set()) | req.extras
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue  # reported below: a package the lock lacks is not installed by `make setup`
        todo += [(Requirement(r), {"", *needed[name]}) for r in requires]
    return set(needed)


def test_every_declared_dependency_is_pinned_within_its_range():
    for lock, extra in (("main.txt", None), ("test.txt", "test")):
        locked = pins(lock)
        for req in declared(extra):
            name = canonicalize_name(req.name)
            assert name in locked, f"{req} (pyproject.toml) is not in requirements/{lock}: run `make lock`"
            version, extras = locked[name]
            assert req.specifier.contains(version, prereleases=True), (
                f"requirements/{lock} pins {name}=={version}, outside pyproject.toml's {req}: run `make lock`"
            )
            assert req.extras <= extras, f"requirements/{lock} locks {name} without the extras {req.extras}"


def test_the_test_lock_holds_the_main_lock_versions():
    main, test = pins("main.txt"), pins("test.txt")
    assert {name: v for name, (v, _) in main.items()} == {name: test[name][0] for name in main if name in test}
    assert set(main) <= set(test)


def test_the_lock_is_exactly_what_pyproject_needs():
    # a dependency dropped from pyproject.toml leaves a stale pin; one added needs a pin
    for lock, extra in (("main.txt", None), ("test.txt", "test")):
        locked, needed = set(pins(lock)), closure(declared(extra))
        assert not needed - locked, (
            f"needed but not in requirements/{lock} (run `make lock`): {sorted(needed - locked)}"
        )
        assert not locked - needed, (
            f"in requirements/{lock} but needed by nothing (run `make lock`): {sorted(locked - needed)}"
        )


def test_the_environment_is_the_lock():
    # what `make test` installed is what the lock says (a stale .venv shows here, not as an odd failure)
    for name, (version, _) in pins("test.txt").items():
        installed = importlib.metadata.version(name)
        assert installed == version, f"{name} {installed} is installed, requirements/test.txt says {version}"
