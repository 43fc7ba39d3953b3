"""Bookkeeping shared by the loaders: fatal input errors, repaired/dropped damage, and
the one place that turns loader rows into a table with the ``contexts`` dtypes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from mascot.schemas import CONTEXTS

Action = Literal["repaired", "dropped"]


def cut(text: str, max_chars: int) -> str:
    """``text`` shortened to ``max_chars`` with a closing '…' (the repair a loader reports as ``truncated``)."""
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


class DataError(ValueError):
    """Input that cannot be loaded at all (missing or empty file, missing column, not JSON…).

    The message always starts with the file, then the line or key when there is one,
    so a user can open the exact spot: ``data/valid.csv:1: missing column 'prompt'``.
    """

    def __init__(self, file: str | Path, message: str, *, line: int | None = None, key: str | None = None):
        self.file, self.line, self.key = str(file), line, key
        where = self.file + (f":{line}" if line is not None else "") + (f" [{key}]" if key else "")
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class DataIssue:
    """One piece of damaged input and what the loader did about it."""

    file: str
    line: int | None
    kind: str
    detail: str
    action: Action

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        return f"{where}: {self.kind} ({self.action}): {self.detail}"


@dataclass
class IngestReport:
    """Every issue met while loading, in the order met."""

    issues: list[DataIssue] = field(default_factory=list)

    def add(self, file: str | Path, line: int | None, kind: str, detail: str, action: Action) -> DataIssue:
        if action not in ("repaired", "dropped"):
            raise ValueError(f"action must be 'repaired' or 'dropped', not {action!r}")
        issue = DataIssue(str(file), line, kind, detail, action)
        self.issues.append(issue)
        return issue

    def __len__(self) -> int:
        return len(self.issues)

    def __iter__(self) -> Iterator[DataIssue]:
        return iter(self.issues)

    def of_kind(self, kind: str) -> list[DataIssue]:
        return [i for i in self.issues if i.kind == kind]

    def counts(self) -> dict[str, int]:
        """Flat counts for a metrics JSON: ``issues``, ``repaired``, ``dropped`` (always
        present, so the metric keys stay stable) and ``kind_<kind>`` per kind met."""
        out = {"issues": len(self.issues), "repaired": 0, "dropped": 0}
        out.update(Counter(i.action for i in self.issues))
        out.update({f"kind_{k}": n for k, n in sorted(Counter(i.kind for i in self.issues).items())})
        return out

    def log_lines(self) -> list[str]:
        """A summary line then one line per issue, for humans."""
        c = self.counts()
        head = f"{c['issues']} data issue(s): {c['repaired']} repaired, {c['dropped']} dropped"
        return [head, *(f"  {issue}" for issue in self.issues)]


# Loaders build plain row dicts; the dtypes come from the schema itself so they cannot drift.
CONTEXT_DTYPES: dict[str, pl.DataType] = {name: col.dtype.type for name, col in CONTEXTS.columns.items()}


def contexts_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows (dicts with every ``contexts`` column) → a DataFrame with the schema's dtypes."""
    return pl.DataFrame(rows, schema=CONTEXT_DTYPES)
