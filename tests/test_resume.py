"""The resume store under the writes a kill leaves behind: every finished record survives, the
torn one is redone, and the run after the crash appends records a later run can read."""

from __future__ import annotations

import json

import pytest

from mascot.resume import RecordStore


def record_bytes(key: str, value) -> bytes:
    return (json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n").encode("utf-8")


@pytest.mark.parametrize(
    ("cut", "torn"),
    [
        pytest.param(lambda b: b[: b.index("’".encode()) + 1], 1, id="inside a multi-byte character"),
        pytest.param(lambda b: b[: len(b) // 2], 1, id="mid-line"),
        pytest.param(lambda b: b[:-1], 0, id="only its newline missing"),  # the record itself is whole
    ],
)
def test_a_torn_last_write_costs_only_its_own_record(tmp_path, cut, torn):
    path = tmp_path / "store.jsonl"
    path.write_bytes(record_bytes("a", "it’s fine") + cut(record_bytes("b", "don’t go — stay")))

    store = RecordStore(path)
    assert store.records == {"a": "it’s fine", **({} if torn else {"b": "don’t go — stay"})}
    assert store.torn_lines == torn

    store.put_many([("b", "don’t go — stay"), ("c", "ok")])
    again = RecordStore(path)
    assert again.records == {"a": "it’s fine", "b": "don’t go — stay", "c": "ok"}
    assert again.torn_lines == torn  # the fragment stays on its own line: new records are not glued to it


def test_a_clean_file_gains_no_blank_lines(tmp_path):
    path = tmp_path / "store.jsonl"
    RecordStore(path).put_many([("a", 1)])
    RecordStore(path).put_many([("b", 2)])
    assert path.read_bytes() == record_bytes("a", 1) + record_bytes("b", 2)
    assert RecordStore(path).torn_lines == 0
