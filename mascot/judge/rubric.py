"""Rubrics as files: criteria with what a 1, 3 and 5 look like, and a version that goes
into every judgment (and its cache key), so scores from different wordings never mix."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mascot.yaml_files import Text, load_yaml_model


class RubricError(ValueError):
    """A rubric file is malformed; the message names the file and the key."""


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Identifier used in tables and metrics.")
    title: Text = Field(description="Human-readable name, e.g. 'Persona Consistency'.")
    question: Text = Field(description="What the judge answers with a score from 1 to 5.")
    anchors: dict[int, Text] = Field(description="What a 1, a 3 and a 5 look like (2 and 4 lie between).")

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
    description: Text
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
    return load_yaml_model(path, Rubric, "rubric", RubricError)
