"""The package is layered without cycles. Every module has a layer in LAYERS, lowest first, and imports
only from its own layer and those below it, wherever the import sits (imports inside functions count:
they run all the same). A stage module (what a stage's script calls to compute) imports no other stage's
module, so the shared code of two stages lives in a component, and a stage's deps in dvc.yaml are its own
code and what it shares (tests/test_stage_deps.py).

A module missing from LAYERS fails the first test: give a new module its layer here."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import get_args

import pytest

from .conftest import REPO
from .module_graph import imported, module_name, registered

LAYERS: dict[str, set[str]] = {
    # what every layer may use: tables, names, records, seeds, statistics, files, the persona cards
    "core": {
        "mascot", "mascot.choices", "mascot.personas", "mascot.progress", "mascot.registry", "mascot.resume",
        "mascot.schemas", "mascot.seeds", "mascot.stats", "mascot.yaml_files",
    },
    # typed params, validated against core's names only
    "config": {"mascot.config"},
    # the building blocks of the stages: backends, judges, prompts, the conversation engine, rewards, data
    "components": {
        "mascot.blocks", "mascot.chat", "mascot.chat.directive", "mascot.chat.engine", "mascot.chat.state",
        "mascot.data", "mascot.data.empathetic", "mascot.data.issues", "mascot.data.qmsum", "mascot.data.sample",
        "mascot.data.sampling", "mascot.data.valence", "mascot.embeddings", "mascot.eval", "mascot.eval.backends",
        "mascot.eval.human", "mascot.eval.metrics", "mascot.eval.scoring", "mascot.format_reward", "mascot.judge",
        "mascot.judge.blocks", "mascot.judge.labeling", "mascot.judge.openai_judge", "mascot.judge.rubric",
        "mascot.judge.transformers_judge", "mascot.llm", "mascot.llm.base_model", "mascot.llm.openai_backend",
        "mascot.llm.transformers_backend", "mascot.prompts", "mascot.reward_model", "mascot.rewards",
        "mascot.tracking",
    },
    # what the stages trained, loaded: the agents' adapters, the trained group, the evaluated systems
    "artifacts": {"mascot.agents", "mascot.eval.systems", "mascot.stand_ins", "mascot.trained_group"},
    # the stages' own code, and what runs a stage script
    "stages": {
        "mascot.candidates", "mascot.data.ingest", "mascot.director_sft", "mascot.eval.evaluate", "mascot.eval.mbti",
        "mascot.eval.report", "mascot.group_rm", "mascot.grpo_agents", "mascot.grpo_director", "mascot.label",
        "mascot.persona_rm", "mascot.rollouts", "mascot.sft", "mascot.stage",
    },
    # the commands and the chat front ends
    "app": {
        "mascot.app", "mascot.app.export", "mascot.app.server", "mascot.app.session", "mascot.app.terminal",
        "mascot.app.workspace", "mascot.cli", "mascot.lock_status",
    },
}  # fmt: skip
# the module each stage's script calls to compute (group_label and base_model call components)
STAGE_MODULES = {
    "mascot.candidates", "mascot.data.ingest", "mascot.director_sft", "mascot.eval.evaluate", "mascot.eval.mbti",
    "mascot.eval.report", "mascot.group_rm", "mascot.grpo_agents", "mascot.grpo_director", "mascot.label",
    "mascot.persona_rm", "mascot.rollouts", "mascot.sft",
}  # fmt: skip
LEVEL = {m: i for i, layer in enumerate(LAYERS.values()) for m in layer}
FILES = {module_name(p): p for p in sorted((REPO / "mascot").rglob("*.py"))}


def resolve(name: str) -> str | None:
    """The module an imported name lives in (``mascot.judge.JudgeItem`` → ``mascot.judge``)."""
    while name and name not in FILES:
        name = name.rpartition(".")[0]
    return name or None


def imports(path: Path) -> set[str]:
    return {m for m in map(resolve, imported(path)) if m} - {module_name(path)}


GRAPH = {m: imports(p) for m, p in FILES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module (Tarjan), as a path
    that ends where it starts."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while (w := stack.pop()) != v:
                component.add(w)
            if component:
                found.append(shortest_cycle(graph, v, component | {v}))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def shortest_cycle(graph: dict[str, set[str]], start: str, within: set[str]) -> list[str]:
    came: dict[str, str] = {}
    todo = deque([start])
    while todo:
        v = todo.popleft()
        for w in sorted(graph[v] & within):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(came[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if w not in came:
                came[w] = v
                todo.append(w)
    raise AssertionError(f"{start} is in a cycle it cannot be reached back from")


def test_every_module_has_one_layer():
    listed = [m for layer in LAYERS.values() for m in layer]
    assert sorted(set(FILES) - set(listed)) == [], "modules without a layer: add them to LAYERS"
    assert sorted(set(listed) - set(FILES)) == [], "LAYERS lists modules that do not exist"
    assert len(listed) == len(set(listed)), "a module is in two layers"
    assert STAGE_MODULES <= LAYERS["stages"]


def test_the_import_graph_has_no_cycle():
    found = cycles(GRAPH)
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_no_stage_module_imports_another():
    crossing = sorted(f"{m} -> {i}" for m in STAGE_MODULES for i in GRAPH[m] & STAGE_MODULES)
    assert crossing == [], "stage modules importing another's (move what they share to a component):\n" + "\n".join(
        crossing
    )


def test_no_module_imports_a_higher_layer():
    layer = list(LAYERS)
    upward = sorted(
        f"{m} ({layer[LEVEL[m]]}) -> {i} ({layer[LEVEL[i]]})"
        for m, targets in GRAPH.items() if m in LEVEL for i in targets if i in LEVEL and LEVEL[i] > LEVEL[m]
    )  # fmt: skip
    assert upward == [], "imports from a higher layer:\n" + "\n".join(upward)


@pytest.mark.parametrize("script", sorted(p.name for p in (REPO / "pipeline").glob("*.py")))
def test_a_stage_script_calls_at_most_one_stage_module(script):
    """A script reaching into another stage's module would make that stage's code its own dep."""
    called = sorted({m for m in map(resolve, imported(REPO / "pipeline" / script)) if m} & STAGE_MODULES)
    assert len(called) <= 1, f"pipeline/{script} imports the stage modules {called}"


def test_registries_name_their_implementations_and_import_none():
    """The backend and judge registries hold "module:attr" strings: the packages import no implementation
    (the implementations import them), and every string names a class that exists."""
    from mascot.judge import JUDGES
    from mascot.llm import BACKENDS
    from mascot.registry import import_ref

    for package, registry in (("mascot.llm", BACKENDS), ("mascot.judge", JUDGES)):
        refs = {registry.get(name) for name in registry}
        modules = {ref.partition(":")[0] for ref in refs}
        assert modules == registered(FILES[package]) and not modules & GRAPH[package]
        assert all(isinstance(import_ref(ref), type) for ref in refs)


def test_the_names_config_checks_are_the_ones_implemented():
    """config checks params against core's lists of names; each list is what the layer above implements."""
    from mascot.chat import directive
    from mascot.choices import MBTI_TYPES, SYSTEM_NAMES, BackendName, SpeakerRule
    from mascot.eval.systems import SYSTEMS
    from mascot.judge import JUDGES
    from mascot.llm import BACKENDS

    assert BACKENDS.names() == JUDGES.names() == sorted(get_args(BackendName))
    assert directive.SpeakerRule is SpeakerRule
    assert SYSTEMS.names() == sorted(SYSTEM_NAMES) and len(SYSTEM_NAMES) == len(set(SYSTEM_NAMES))
    assert len(set(MBTI_TYPES)) == 16
