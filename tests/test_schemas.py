"""A table that breaks its schema stops the stage with the table, column, rows and ids named."""

from __future__ import annotations

import polars as pl
import pytest

from mascot.data import contexts_frame
from mascot.schemas import CANDIDATES, CONTEXTS, TableError, read_table, write_table

GOOD = {
    "context_id": "ed/train/hit:1_conv:1/2",
    "dataset": "empathetic_dialogues",
    "split": "train",
    "domain": "positive",
    "emotion": "proud",
    "situation": "I finished my thesis.",
    "history": [{"speaker": "user", "text": "I finished my thesis today!"}],
    "query": None,
    "reference": "Congratulations!",
    "source": "train.csv:2",
}


def contexts(*edits: dict) -> pl.DataFrame:
    return contexts_frame([GOOD | {"context_id": f"c{i}"} | e for i, e in enumerate(edits)])


def test_bad_rows_are_named(tmp_path):
    df = contexts(
        {},
        {"domain": "cheerful"},
        {"situation": "   "},
        {"history": [{"speaker": "", "text": "hi"}]},
        {"emotion": None},
    )
    with pytest.raises(TableError) as info:
        write_table(df, tmp_path / "contexts.parquet", CONTEXTS)
    message = str(info.value)
    assert f"table 'contexts' ({tmp_path / 'contexts.parquet'})" in message
    assert "column 'domain'" in message and "['cheerful']" in message and "['c1']" in message
    assert "column 'situation'" in message and "['c2']" in message
    assert "turns_have_speaker_and_text" in message and "['c3']" in message
    assert "empathetic_dialogues_rows_have_an_emotion" in message and "['c4']" in message
    assert not (tmp_path / "contexts.parquet").exists(), "nothing is written when validation fails"


def test_duplicate_ids_and_missing_columns(tmp_path):
    with pytest.raises(TableError, match="column 'context_id'.*unique"):
        write_table(pl.concat([contexts({}), contexts({})]), tmp_path / "c.parquet", CONTEXTS)
    with pytest.raises(TableError, match="reference"):
        write_table(contexts({}).drop("reference"), tmp_path / "c.parquet", CONTEXTS)


def test_reading_validates_too(tmp_path):
    path = tmp_path / "candidates.parquet"
    contexts({}).write_parquet(path)  # a table of the wrong kind where candidates should be
    with pytest.raises(TableError, match="table 'candidates'"):
        read_table(path, CANDIDATES)
    with pytest.raises(FileNotFoundError, match="run the stage that writes it first"):
        read_table(tmp_path / "missing.parquet", CONTEXTS)


def test_round_trip(tmp_path):
    df = contexts({}, {"dataset": "qmsum", "domain": "product", "emotion": None, "query": "What was decided?"})
    write_table(df, tmp_path / "c.parquet", CONTEXTS)
    assert read_table(tmp_path / "c.parquet", CONTEXTS).equals(df)
