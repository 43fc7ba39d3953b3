"""Rubrics as files: criteria with what a 1, 3 and 5 look like, and a version that goes
into every judgment (and its cache key), so scores from different wordings never mix."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class RubricError(ValueError):
    """A rubric file is malformed; the message names the file and the key."""


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Identifier used in tables and metrics.")
    title: str = Field(description="Human-readable name, e.g. 'Persona Consistency'.")
    question: str = Field(description="What the judge answers with a score from 1 to 5.")
    anchors: dict[int, str] = Field(description="What a 1, a 3 and a 5 look like (2 and 4 lie between).")

    @field_validator("anchors")
    @classmethod
    def _anchors(cls, v: dict[int, str]) -> dict[int, str]:
        if not {1, 3, 5} <= set(v) or not set(v) <= {1, 2, 3, 4, 5}:
            raise ValueError(f"needs anchors for 1, 3 and 5 (keys within 1..5), got {sorted(v)}")
        return dict(sorted(v.items()))


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str = Field(min_length=1)
    description: str
    criteria: list[Criterion] = Field(min_length=1)

    @field_validator("criteria")
    @classmethod
    def _unique(cls, v: list[Criterion]) -> list[Criterion]:
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError(f"criterion names must be unique, got {names}")
        return v

    @property
    def criterion_names(self) -> list[str]:
        return [c.name for c in self.criteria]


def load_rubric(path: str | Path) -> Rubric:
    path = Path(path)
    if not path.exists():
        raise RubricError(f"{path}: rubric file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Rubric.model_validate(raw)
    except yaml.YAMLError as exc:
        raise RubricError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RubricError(f"{path}: invalid rubric: {problems}") from None
