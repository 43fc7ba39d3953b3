"""The bundled offline sample: deterministic, committed as written, and in the real datasets' formats.

Format checks use the standard library only (plain ``str.split`` and ``json``), so they
test the files themselves rather than the project's loaders.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from mascot.data.sample import ED_EMOTIONS, ED_HEADER, QMSUM_KEYS, write_sample
from mascot.data.valence import VALENCE

COMMITTED = Path(__file__).resolve().parent.parent / "data" / "sample"
REGENERATE = "run `mascot sample write data/sample` and commit the result"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    write_sample(root)
    return root


def _ed_rows(root: Path, split: str) -> list[list[str]]:
    data = (root / "empathetic_dialogues" / f"{split}.csv").read_bytes()
    assert b"\r" not in data, f"{split}.csv: line ends must be \\n"
    assert data.endswith(b"\n")
    lines = data.decode("utf-8").split("\n")[:-1]
    assert lines[0] == ED_HEADER
    return [line.split(",") for line in lines[1:]]


def _conversations(rows: list[list[str]]) -> dict[str, list[list[str]]]:
    convs: dict[str, list[list[str]]] = {}
    for row in rows:
        convs.setdefault(row[0], []).append(row)
    return convs


def _qmsum_files(root: Path) -> list[Path]:
    return sorted((root / "qmsum").glob("*/*/*.json"))


# ------------------------------------------------------------------ determinism


def test_write_is_byte_identical_across_runs(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    paths = write_sample(first)
    write_sample(second)
    assert sorted(p.relative_to(first).as_posix() for p in paths) == sorted(_tree(first))
    assert _tree(first) == _tree(second)
    # writing over an existing sample changes nothing either
    write_sample(first)
    assert _tree(first) == _tree(second)


def test_committed_sample_matches_module(sample: Path) -> None:
    assert COMMITTED.is_dir(), f"{COMMITTED} is missing; {REGENERATE}"
    expected, committed = _tree(sample), _tree(COMMITTED)
    missing = sorted(set(expected) - set(committed))
    extra = sorted(set(committed) - set(expected))
    changed = sorted(k for k in set(expected) & set(committed) if expected[k] != committed[k])
    assert not (missing or extra or changed), (
        f"data/sample differs from what mascot/data/sample.py writes from mascot/data/sample_source/: missing "
        f"{missing}, not written by the module {extra}, different {changed}; {REGENERATE} (delete files the "
        "module no longer writes)"
    )


# ------------------------------------------------------------ EmpatheticDialogues


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_ed_original_layout(sample: Path, split: str) -> None:
    rows = _ed_rows(sample, split)
    assert rows
    for n, row in enumerate(rows, start=2):
        assert len(row) == 8, f"{split}.csv line {n}: {len(row)} fields"
        conv_id, idx, emotion, prompt, speaker, utterance, selfeval, tags = row
        assert conv_id.startswith("hit:") and "_conv:" in conv_id, conv_id
        assert idx.isdigit() and speaker.isdigit()
        assert emotion in ED_EMOTIONS
        assert prompt.strip() and utterance.strip()
        for text in (prompt, utterance):
            assert '"' not in text, f"{split}.csv line {n}: a quote would look like CSV quoting"
            assert "\t" not in text and text == text.strip()
        parts = selfeval.split("_")
        assert len(parts) == 2 and all(len(p.split("|")) == 3 and p.replace("|", "").isdigit() for p in parts)
        assert tags == ""


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_ed_conversations(sample: Path, split: str) -> None:
    convs = _conversations(_ed_rows(sample, split))
    for conv_id, rows in convs.items():
        assert [int(r[1]) for r in rows] == list(range(1, len(rows) + 1)), f"{conv_id}: utterance_idx not 1..n"
        assert 4 <= len(rows) <= 6, conv_id
        assert len({(r[2], r[3]) for r in rows}) == 1, f"{conv_id}: context/prompt change inside a conversation"
        speakers = [r[4] for r in rows]
        first, second = speakers[0], speakers[1]
        assert first != second
        assert speakers == [first if i % 2 == 0 else second for i in range(len(rows))], f"{conv_id}: no alternation"
        assert len({r[6] for r in rows}) == 1
    emotions = [rows[0][2] for rows in convs.values()]
    if split == "train":
        assert sorted(emotions) == sorted(ED_EMOTIONS), "train has exactly one conversation per emotion"
    else:
        assert len(convs) == 12
        valence = Counter(VALENCE[e] for e in emotions)
        assert all(valence[v] >= 3 for v in ("positive", "negative", "neutral")), valence


def test_ed_conv_ids_unique_across_splits(sample: Path) -> None:
    ids = [cid for split in ("train", "valid", "test") for cid in _conversations(_ed_rows(sample, split))]
    assert len(ids) == len(set(ids)) == 56


def test_ed_size(sample: Path) -> None:
    size = sum((sample / "empathetic_dialogues" / f"{s}.csv").stat().st_size for s in ("train", "valid", "test"))
    assert size < 64_000, f"the ED sample is {size} bytes; keep it small"


# ------------------------------------------------------------------------ QMSum


def _span(pair: list, n_turns: int, where: str) -> tuple[int, int]:
    assert isinstance(pair, list) and len(pair) == 2, where
    assert all(isinstance(v, str) and v.isdigit() for v in pair), f"{where}: spans are integer strings, got {pair}"
    start, end = int(pair[0]), int(pair[1])
    assert 0 <= start <= end < n_turns, f"{where}: {pair} outside {n_turns} turns"
    return start, end


def test_qmsum_layout(sample: Path) -> None:
    files = _qmsum_files(sample)
    found = Counter(f.relative_to(sample / "qmsum").parts[:2] for f in files)
    for domain in ("Academic", "Committee", "Product"):
        assert (found[(domain, "train")], found[(domain, "val")], found[(domain, "test")]) == (2, 1, 1), domain
    ids = [f.stem for f in files]
    assert len(ids) == len(set(ids))


def test_qmsum_meetings(sample: Path) -> None:
    for file in _qmsum_files(sample):
        text = file.read_text(encoding="utf-8")
        meeting = json.loads(text)
        assert text == json.dumps(meeting, indent=4), f"{file.name}: not in QMSum's json.dumps(indent=4) layout"
        assert len(text.encode()) < 12_500, f"{file.name} is too large"
        assert tuple(meeting) == QMSUM_KEYS, f"{file.name}: keys {list(meeting)}"
        turns = meeting["meeting_transcripts"]
        assert 24 <= len(turns) <= 36, f"{file.name}: {len(turns)} turns"
        for turn in turns:
            assert list(turn) == ["speaker", "content"] and turn["speaker"].strip() and turn["content"].strip()
        n = len(turns)
        # topics: 3, contiguous, covering the whole transcript
        topics = meeting["topic_list"]
        assert len(topics) == 3
        covered = []
        for t in topics:
            assert list(t) == ["topic", "relevant_text_span"] and t["topic"].strip()
            covered += [_span(p, n, f"{file.name} topic") for p in t["relevant_text_span"]]
        assert covered[0][0] == 0 and covered[-1][1] == n - 1
        assert all(a[1] + 1 == b[0] for a, b in zip(covered, covered[1:])), f"{file.name}: topic spans {covered}"
        general = meeting["general_query_list"]
        assert len(general) == 1 and list(general[0]) == ["query", "answer"]
        assert general[0]["query"].strip() and general[0]["answer"].strip()
        specific = meeting["specific_query_list"]
        assert len(specific) == 2
        for q in specific:
            assert list(q) == ["query", "answer", "relevant_text_span"] and q["query"].strip() and q["answer"].strip()
            assert q["relevant_text_span"]
            for pair in q["relevant_text_span"]:
                _span(pair, n, f"{file.name} query {q['query']!r}")


def test_qmsum_speakers(sample: Path) -> None:
    product_roles = {"Project Manager", "Marketing", "Industrial Designer", "User Interface"}
    for file in _qmsum_files(sample):
        domain = file.relative_to(sample / "qmsum").parts[0]
        speakers = {t["speaker"] for t in json.loads(file.read_text())["meeting_transcripts"]}
        if domain == "Product":
            assert speakers == product_roles, file.name
        elif domain == "Academic":
            for s in speakers:
                role, _, letter = s.partition(" ")
                assert role in {"Professor", "PhD", "Grad", "Postdoc", "Undergrad"} and len(letter) == 1, s
        else:
            assert any(s.startswith("The Chair (") for s in speakers) and "The Chair" in speakers, file.name


def test_qmsum_jsonl_equals_json_files(sample: Path) -> None:
    lines = (sample / "qmsum" / "Product" / "jsonl" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    from_jsonl = [json.loads(line) for line in lines]
    files = sorted((sample / "qmsum" / "Product" / "train").glob("*.json"))
    assert len(from_jsonl) == len(files) == 2
    for meeting, file in zip(from_jsonl, files):
        assert tuple(meeting) == QMSUM_KEYS
        assert meeting == json.loads(file.read_text(encoding="utf-8")), f"JSONL line differs from {file.name}"


def test_readme(sample: Path) -> None:
    text = (sample / "README.md").read_text(encoding="utf-8")
    assert "mascot sample write data/sample" in text
    assert "licence" in text.lower()
