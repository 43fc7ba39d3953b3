"""YAML files validated into pydantic models (persona cards, rubrics, user simulators, params), and the
JSON records stages leave beside their outputs: one error naming the file, and each bad key, for
whatever is wrong with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

M = TypeVar("M", bound=BaseModel)
# one text of a persona card, rubric or user simulator goes into prompts whole; a longer one would
# crowd the conversation out of a small model's 2,048-token window (and is a pasted file, not a rule)
MAX_TEXT_CHARS = 2000
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


def read_yaml_mapping(path: Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """A YAML file's top-level mapping (an empty file is an empty one). A missing file, bad YAML,
    bytes that are not UTF-8 or a top level that is not a mapping is one ``error`` naming the file."""
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not a readable YAML {what}: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{path}: a {what} is a mapping of keys at the top level, not a {type(raw).__name__}")
    return raw


def read_json_object(path: Path, what: str, error: type[Exception] = ValueError) -> dict[str, Any]:
    """A JSON object a stage wrote (metrics, a model folder's record). Cut short, not UTF-8 or not an
    object is one ``error`` naming the file and how to get a good copy back."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not valid JSON ({exc}), so not a readable {what}; restore it with `dvc checkout` "
                    "or re-run the stage that writes it") from None  # fmt: skip
    if not isinstance(obj, dict):
        raise error(f"{path}: a {what} holds one JSON object, found {type(obj).__name__}")
    return obj


def load_yaml_model(path: str | Path, model: type[M], what: str, error: type[Exception]) -> M:
    """A YAML file validated into ``model``; every invalid key is named with the file in one ``error``."""
    path = Path(path)
    raw = read_yaml_mapping(path, what, error)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<file>'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise error(f"{path}: invalid {what}: {problems}") from None
