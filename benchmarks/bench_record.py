"""Where the benchmarks put their figures: merged into metrics/bench.json under a prefix, so a
re-run of one benchmark updates its own keys and keeps the others'."""

from __future__ import annotations

import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "metrics/bench.json"


def record(prefix: str, figures: dict) -> Path:
    merged = json.loads(BENCH.read_text()) if BENCH.exists() else {}
    for key, value in figures.items():
        merged[f"{prefix}.{key}"] = ",".join(map(str, value)) if isinstance(value, list) else value
    BENCH.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return BENCH


def variant(name: str, overrides: list[str], section: str) -> str:
    """The prefix of a run with ``--set`` overrides: each one joins the name (its section dropped), so a
    variant keeps its own keys beside the default's."""
    return name + "".join(f".{kv.replace(section + '.', '')}" for kv in overrides)
