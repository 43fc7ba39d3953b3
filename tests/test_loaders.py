"""Loaders on the real EmpatheticDialogues and QMSum files in ../shared/data, plus
small hand-made damaged inputs in tmp_path."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from mascot.data import (
    VALENCE,
    DataError,
    IngestReport,
    UnknownEmotion,
    detect_layout,
    load_empathetic_dialogues,
    load_qmsum,
    sample_contexts,
    valence,
)
from mascot.schemas import CONTEXTS, validate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ED_VALID = DATA / "empathetic_dialogues" / "valid.csv"
QMSUM = DATA / "qmsum"

needs_ed = pytest.mark.skipif(not ED_VALID.is_file(), reason=f"real EmpatheticDialogues file absent: {ED_VALID}")
needs_qmsum = pytest.mark.skipif(not QMSUM.is_dir(), reason=f"real QMSum folder absent: {QMSUM}")

HEADER = "conv_id,utterance_idx,context,prompt,speaker_idx,utterance,selfeval,tags"


CONVERSATION = pl.col("context_id").str.split("/").list.get(2)  # ed/<split>/<conv_id>/<idx>


# --- valence ---------------------------------------------------------------------------


def test_valence_groups_and_unknown_label():
    assert Counter(VALENCE.values()) == {"negative": 16, "positive": 11, "neutral": 5}
    assert valence("terrified") == "negative" and valence("proud") == "positive" and valence("nostalgic") == "neutral"
    with pytest.raises(UnknownEmotion, match="did you mean 'terrified'"):
        valence("terified")


# --- EmpatheticDialogues, real quoted re-export -----------------------------------------


@pytest.fixture(scope="module")
def ed_valid() -> tuple[pl.DataFrame, IngestReport]:
    if not ED_VALID.is_file():
        pytest.skip(f"real EmpatheticDialogues file absent: {ED_VALID}")
    report = IngestReport()
    return load_empathetic_dialogues(ED_VALID, "valid", report), report


@needs_ed
def test_ed_valid_is_detected_as_quoted():
    assert detect_layout(ED_VALID.read_text(encoding="utf-8")) == "quoted"


@needs_ed
def test_ed_valid_conversations_and_schema(ed_valid):
    df, _ = ed_valid
    validate(df, CONTEXTS, ED_VALID)
    # A plain CSV reader sees 2,763 conversations; the 5 swallowing rows hid 7 whole
    # conversations, which the repair recovers: 2,770, the split size of the paper.
    # All of them survive; two (one of 1, one of 2 utterances) are so short that only
    # the 2-utterance one yields a context, so 2,769 conversations have contexts.
    with ED_VALID.open(encoding="utf-8", newline="") as f:
        assert len({record[0] for record in csv.reader(f)}) - 1 == 2763  # minus the header
    assert df.select(CONVERSATION.n_unique()).item() == 2769
    assert df.height == 5738
    assert df["context_id"].is_unique().all()
    assert set(df["emotion"]) == set(VALENCE)
    assert dict(df.group_by("domain").len().iter_rows()) == {"negative": 2866, "positive": 1881, "neutral": 991}
    assert (df["domain"] == df["emotion"].replace_strict(VALENCE)).all()
    assert df.select(pl.col("history").list.len().min()).item() >= 1
    assert not df["situation"].str.contains("_comma_").any() and not df["reference"].str.contains("_comma_").any()


@needs_ed
def test_ed_valid_damage_reported_with_lines(ed_valid):
    df, report = ed_valid
    swallowed = report.of_kind("swallowed_lines")
    assert [i.line for i in swallowed] == [4342, 5171, 8362, 9098, 10496]
    assert all(i.action == "repaired" and i.file == str(ED_VALID) for i in swallowed)
    # 17 + 1 + 3 + 16 + 11 raw lines were inside those five fields
    assert sum(int(i.detail.split("(")[1].split()[0]) for i in swallowed) == 48
    assert report.counts() == {"issues": 5, "repaired": 5, "dropped": 0, "kind_swallowed_lines": 5}
    # A recovered row keeps its own physical line: conv 8599's 2nd utterance is on line 4343.
    row = df.filter(pl.col("context_id") == "ed/valid/hit:4299_conv:8599/2").row(0, named=True)
    assert row["source"] == "valid.csv:4343"
    assert row["history"] == [{"speaker": "user", "text": "\"I'm devastated by my mother's death"}]
    assert row["reference"].startswith("I am so sorry to hear that she has passed.")
    # the 7 hidden conversations are back, e.g. 8605, wholly inside line 4342's field
    assert df.filter(pl.col("context_id").str.starts_with("ed/valid/hit:4302_conv:8605/")).height == 2
    assert any("4342:" in line and "swallowed" in line for line in report.log_lines())


@needs_ed
def test_ed_valid_in_original_layout_gives_the_same_contexts(tmp_path, ed_valid):
    # Rebuild the unquoted original this export was made from: one raw line per
    # utterance, and the unmatched quote that started each swallowing field.
    with ED_VALID.open(encoding="utf-8", newline="") as f:
        records = list(csv.reader(f))
    lines = [",".join('"' + v if "\n" in v else v for v in record) for record in records]
    original = tmp_path / "valid.csv"
    original.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert original.read_text(encoding="utf-8").count("\n") == 12079  # header + 12,078 utterances
    assert detect_layout(original.read_text(encoding="utf-8")) == "original"
    report = IngestReport()
    df = load_empathetic_dialogues(original, "valid", report)
    assert len(report) == 0
    assert df.equals(ed_valid[0])  # same ids, texts and even line numbers


# --- EmpatheticDialogues, original layout and damaged inputs ----------------------------

CONVS = [  # (conv_id, emotion, prompt, [(speaker_idx, utterance)])
    ("hit:1_conv:2", "sentimental", 'I remember going to see "the fireworks" with my best friend_comma_ it was great.',
     [("1", "I remember going to see the fireworks_comma_ it was great."), ("0", 'Was this "a friend" you still see?'),
      ("1", "Not really_comma_ sadly."), ("0", "Sorry to hear that.")]),
    ("hit:5_conv:10", "devastated", "My dog died.",
     [("7", '"I lost my dog today'), ("9", "Oh no! I'm so sorry."), ("7", "Thanks_comma_ it hurts.")]),
]  # fmt: skip


def write_original(path: Path, convs=CONVS, extra_field: bool = True) -> Path:
    lines = [HEADER]
    for conv_id, emotion, prompt, utts in convs:
        for i, (speaker, text) in enumerate(utts, start=1):
            line = f"{conv_id},{i},{emotion},{prompt},{speaker},{text},5|5|5_5|5|5,"
            lines.append(line + (",candidate a|candidate b" if extra_field and i % 2 == 0 else ""))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_quoted(path: Path, convs=CONVS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(HEADER.split(","))
        for conv_id, emotion, prompt, utts in convs:
            for i, (speaker, text) in enumerate(utts, start=1):
                w.writerow([conv_id, i, emotion, prompt, speaker, text, "5|5|5_5|5|5", ""])
    return path


def load(path: Path, **kw) -> tuple[pl.DataFrame, IngestReport]:
    report = IngestReport()
    return load_empathetic_dialogues(path, "train", report, **kw), report


def test_original_layout_matches_quoted(tmp_path):
    orig, quoted = write_original(tmp_path / "orig.csv"), write_quoted(tmp_path / "quoted.csv")
    assert detect_layout(orig.read_text()) == "original"
    assert detect_layout(quoted.read_text()) == "quoted"
    (a, ra), (b, rb) = load(orig), load(quoted)
    assert len(ra) == len(rb) == 0
    assert a.height == 3  # 2 listener turns + 1
    validate(a, CONTEXTS)
    assert a.drop("source").equals(b.drop("source"))
    assert a["source"].str.replace("orig.csv", "quoted.csv").equals(b["source"])
    first = a.row(0, named=True)
    assert first["situation"] == 'I remember going to see "the fireworks" with my best friend, it was great.'
    assert first["reference"] == 'Was this "a friend" you still see?'
    # the unmatched quote that caused valid.csv's damage is plain text in this layout
    assert a.row(2, named=True)["history"][0] == {"speaker": "user", "text": '"I lost my dog today'}


def test_ed_fatal_inputs(tmp_path):
    with pytest.raises(DataError, match="nope.csv: file not found"):
        load(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="empty.csv: empty file"):
        load(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text(HEADER + "\n")
    with pytest.raises(DataError, match=r"header.csv:1: has a header but no data rows"):
        load(tmp_path / "header.csv")
    (tmp_path / "cols.csv").write_text(HEADER.replace("prompt,", "") + "\nx,1,sad,1,hi,,\n")
    with pytest.raises(DataError, match=r"cols.csv:1: missing column\(s\) 'prompt'"):
        load(tmp_path / "cols.csv")


def test_ed_bad_utf8_is_replaced_and_reported(tmp_path):
    path = write_original(tmp_path / "bad.csv")
    data = path.read_bytes().replace(b"Sorry to hear", b"Sorry \xff to hear")
    path.write_bytes(data)
    df, report = load(path)
    [issue] = report.of_kind("non_utf8")
    assert (issue.line, issue.action) == (5, "repaired")
    assert df.filter(pl.col("context_id").str.ends_with("conv:2/4"))["reference"].item() == "Sorry \ufffd to hear that."


def test_ed_gap_duplicates_and_row_damage(tmp_path):
    convs = [
        ("hit:1_conv:1", "sad", "gap", [("1", "a"), ("2", "b"), ("1", "c"), ("2", "d")]),
        ("hit:1_conv:2", "sad", "dup", [("1", "a"), ("2", "b")]),
        ("hit:1_conv:3", "sadd", "unknown emotion", [("1", "a"), ("2", "b")]),
        ("hit:1_conv:4", "sad", "empty", [("1", "a"), ("2", "  ")]),
        ("hit:1_conv:5", "sad", "fine", [("1", "a"), ("2", "b")]),
    ]
    path = write_original(tmp_path / "damaged.csv", convs, extra_field=False)
    lines = path.read_text().splitlines()
    lines = [line for line in lines if not line.startswith("hit:1_conv:1,3,")]  # utterance_idx gap
    lines.insert(6, lines[5])  # conv 2 utterance 2 twice, identical
    lines.append("hit:1_conv:5,3,sad,fine")  # too few fields
    path.write_text("\n".join(lines) + "\n")
    df, report = load(path)
    kinds = {(i.kind, i.action): i for i in report}
    assert set(kinds) == {
        ("utterance_gap", "dropped"), ("duplicate_utterance", "repaired"), ("unknown_emotion", "dropped"),
        ("empty_utterance", "dropped"), ("too_few_fields", "dropped"),
    }  # fmt: skip
    assert kinds[("utterance_gap", "dropped")].line == 2 and "missing [3]" in kinds[("utterance_gap", "dropped")].detail
    assert kinds[("duplicate_utterance", "repaired")].line == 7
    assert "did you mean 'sad'" in kinds[("unknown_emotion", "dropped")].detail
    assert kinds[("too_few_fields", "dropped")].line == 14
    assert sorted(df["context_id"]) == ["ed/train/hit:1_conv:2/2", "ed/train/hit:1_conv:5/2"]


def test_ed_huge_utterance_truncated(tmp_path):
    convs = [("hit:1_conv:1", "proud", "big", [("1", "hi"), ("2", "x" * 1_000_000)])]
    for layout, write in (("original", write_original), ("quoted", write_quoted)):
        df, report = load(write(tmp_path / f"{layout}.csv", convs), max_turn_chars=2000)
        [issue] = report.of_kind("truncated")
        assert issue.line == 3 and issue.action == "repaired" and "1000000 chars" in issue.detail
        assert len(df["reference"].item()) == 2000 and df["reference"].item().endswith("…")


def test_ed_huge_situation_truncated(tmp_path):
    convs = [("hit:1_conv:1", "proud", "y" * 1_000_000, [("1", "hi"), ("2", "well done")])]
    df, report = load(write_original(tmp_path / "s.csv", convs), max_turn_chars=2000)
    [issue] = report.of_kind("truncated")
    assert issue.line == 2 and "prompt (situation): 1000000 chars cut to 2000" in issue.detail
    assert len(df["situation"].item()) == 2000 and df["situation"].item().endswith("…")


def test_ed_quoted_embedded_newline_and_swallowed_rows(tmp_path):
    path = write_quoted(tmp_path / "q.csv", [("hit:1_conv:1", "proud", "p", [("1", "two\nlines"), ("2", "b")])])
    df, report = load(path)
    assert [(i.kind, i.line) for i in report] == [("embedded_newline", 2)]
    assert df["history"].item()[0]["text"] == "two lines"
    # The valid.csv damage in small: an unmatched quote swallows the next raw rows.
    raw = [
        'hit:9_conv:1,1,proud,p,1,"oops,5|5|5,',  # the unmatched quote …
        "hit:9_conv:1,2,proud,p,2,ok,5|5|5,",
        'hit:9_conv:1,3,proud,p,1,end,5|5|5,"',  # … closed two lines later
    ]
    good = [f'hit:8_conv:1,{i},sad,"a ""b""",{i % 2},x,,' for i in (1, 2, 3)]
    path.write_text(HEADER + "\r\n" + "\r\n".join(good) + "\r\n" + "\n".join(raw) + "\r\n", newline="")
    df, report = load(path)
    assert [(i.kind, i.line) for i in report] == [("swallowed_lines", 5)]
    row = df.filter(pl.col("context_id") == "ed/train/hit:9_conv:1/2").row(0, named=True)
    assert (row["history"][0]["text"], row["reference"], row["source"]) == ('"oops', "ok", "q.csv:6")
    assert df.filter(pl.col("context_id") == "ed/train/hit:8_conv:1/2")["situation"].item() == 'a "b"'


# --- QMSum ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qmsum() -> dict[str, tuple[pl.DataFrame, IngestReport]]:
    if not QMSUM.is_dir():
        pytest.skip(f"real QMSum folder absent: {QMSUM}")
    out = {}
    for split in ("train", "valid"):  # the whole train split loads in ~0.2 s
        report = IngestReport()
        out[split] = load_qmsum(QMSUM, split, report, window_turns=12, max_turn_chars=600), report
    return out


def meetings_per_domain(df: pl.DataFrame) -> dict[str, int]:
    meeting = pl.col("context_id").str.split("/").list.get(3)
    return dict(df.group_by("domain").agg(meeting.n_unique()).iter_rows())


@needs_qmsum
@pytest.mark.parametrize(
    ("split", "meetings"),
    [
        ("train", {"academic": 41, "committee": 24, "product": 97}),
        ("valid", {"academic": 9, "committee": 6, "product": 20}),
    ],
)
def test_qmsum_real_files(qmsum, split, meetings):
    df, report = qmsum[split]
    validate(df, CONTEXTS, f"qmsum {split}")
    assert meetings_per_domain(df) == meetings
    assert (df["dataset"] == "qmsum").all() and df["emotion"].is_null().all() and (df["split"] == split).all()
    per_domain = dict(df.group_by("domain").len().iter_rows())
    assert set(per_domain) == set(meetings) and min(per_domain.values()) > 0
    assert df.filter(pl.col("query").is_null()).height > 0 and df.filter(pl.col("query").is_not_null()).height > 0
    lengths = df.select(
        pl.col("history").list.len().max().alias("turns"),
        pl.col("history").list.eval(pl.element().struct.field("text").str.len_chars()).list.max().max().alias("chars"),
    ).row(0)
    assert lengths[0] <= 12 and lengths[1] <= 600
    assert report.counts()["dropped"] == 0 and report.counts()["kind_truncated"] > 0
    assert all(i.kind in {"truncated", "empty_turn"} for i in report)


@needs_qmsum
def test_qmsum_jsonl_matches_json(tmp_path, qmsum):
    for folder in ("Academic", "Committee", "Product"):
        files = sorted((QMSUM / folder / "val").glob("*.json"))
        lines = [json.dumps(json.loads(f.read_text(encoding="utf-8"))) for f in files]
        (tmp_path / folder / "jsonl").mkdir(parents=True)
        (tmp_path / folder / "jsonl" / "val.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    jsonl = load_qmsum(tmp_path, "valid", IngestReport(), window_turns=12, max_turn_chars=600)
    json_df = qmsum["valid"][0]
    assert jsonl["source"][0] == "Academic/jsonl/val.jsonl:1"
    assert jsonl["context_id"][0] == "qmsum/valid/academic/val-1/topic0"
    assert jsonl.drop("context_id", "source").equals(json_df.drop("context_id", "source"))


@needs_qmsum
def test_qmsum_bad_spans_reported_and_dropped(tmp_path):
    src = next(iter(sorted((QMSUM / "Product" / "val").glob("*.json"))))
    meeting = json.loads(src.read_text(encoding="utf-8"))
    n = len(meeting["meeting_transcripts"])
    meeting["topic_list"][0]["relevant_text_span"] = [["1", "x"]]
    meeting["topic_list"][1]["relevant_text_span"] = [["9", "3"]]
    meeting["specific_query_list"][0]["relevant_text_span"] = [["0", "2"], ["5", str(n)]]
    (tmp_path / "Product" / "val").mkdir(parents=True)
    (tmp_path / "Product" / "val" / src.name).write_text(json.dumps(meeting), encoding="utf-8")
    report = IngestReport()
    df = load_qmsum(tmp_path, "val", report, domains=("product",))
    bad = report.of_kind("bad_span")
    assert [re.search(r"\[(.*)\]: ", i.detail).group(1) for i in bad] == [
        "topic_list[0].relevant_text_span[0]", "topic_list[1].relevant_text_span[0]",
        "specific_query_list[0].relevant_text_span[1]",
    ]  # fmt: skip
    assert all(i.action == "dropped" and i.file.endswith(src.name) for i in bad)
    ids = set(df["context_id"])
    stem = f"qmsum/valid/product/{src.stem}"
    assert {f"{stem}/topic0", f"{stem}/topic1", f"{stem}/query0"}.isdisjoint(ids) and f"{stem}/query1" in ids


@needs_qmsum
def test_qmsum_huge_topic_and_query_truncated(tmp_path):
    src = next(iter(sorted((QMSUM / "Product" / "val").glob("*.json"))))
    meeting = json.loads(src.read_text(encoding="utf-8"))
    meeting["topic_list"][0]["topic"] = "t" * 1_000_000
    meeting["specific_query_list"][0]["query"] = "q" * 1_000_000
    (tmp_path / "Product" / "val").mkdir(parents=True)
    (tmp_path / "Product" / "val" / src.name).write_text(json.dumps(meeting), encoding="utf-8")
    report = IngestReport()
    df = load_qmsum(tmp_path, "val", report, domains=("product",), max_turn_chars=600)
    wheres = [re.search(r"\[(.*)\]: 1000000 chars cut to 600", i.detail) for i in report.of_kind("truncated")]
    assert {m.group(1) for m in wheres if m} == {"topic_list[0].topic", "specific_query_list[0].query"}
    stem = f"qmsum/valid/product/{src.stem}"
    topic = df.filter(pl.col("context_id") == f"{stem}/topic0").row(0, named=True)
    query = df.filter(pl.col("context_id") == f"{stem}/query0").row(0, named=True)
    assert len(query["query"]) == 600 and query["query"].endswith("…")
    assert 600 <= len(topic["situation"]) < 700  # "Product meeting. Topic under discussion: " + the cut topic
    assert df["situation"].str.len_chars().max() < 700


def test_qmsum_fatal_inputs(tmp_path):
    with pytest.raises(DataError, match="QMSum root folder not found"):
        load_qmsum(tmp_path / "nope", "train", IngestReport())
    with pytest.raises(DataError, match=r"Academic: no meetings"):
        load_qmsum(tmp_path, "train", IngestReport())
    folder = tmp_path / "Academic" / "jsonl"
    folder.mkdir(parents=True)
    good = {"topic_list": [], "specific_query_list": [], "meeting_transcripts": []}
    (folder / "train.jsonl").write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(DataError, match=r"train.jsonl:2: not JSON"):
        load_qmsum(tmp_path, "train", IngestReport(), domains=("academic",))
    del good["meeting_transcripts"]
    (folder / "train.jsonl").write_text(json.dumps(good) + "\n")
    with pytest.raises(DataError, match=r"train.jsonl:1 \[meeting_transcripts\]: missing key 'meeting_transcripts'"):
        load_qmsum(tmp_path, "train", IngestReport(), domains=("academic",))
    good = {"topic_list": [{"topic": "t"}], "specific_query_list": [], "meeting_transcripts": []}
    (folder / "train.jsonl").write_text(json.dumps(good) + "\n")
    with pytest.raises(DataError, match=r"\[topic_list\[0\]\]: missing key 'relevant_text_span'"):
        load_qmsum(tmp_path, "train", IngestReport(), domains=("academic",))
    (folder / "train.jsonl").write_text("  \n")
    with pytest.raises(DataError, match=r"train.jsonl: empty file"):
        load_qmsum(tmp_path, "train", IngestReport(), domains=("academic",))
    shutil.rmtree(folder)
    (tmp_path / "Academic" / "train").mkdir()
    (tmp_path / "Academic" / "train" / "m.json").write_text('{"topic_list": [}')
    with pytest.raises(DataError, match=r"m.json:1: not JSON"):
        load_qmsum(tmp_path, "train", IngestReport(), domains=("academic",))


# --- sampling --------------------------------------------------------------------------


def test_sampling_is_deterministic_and_per_domain(ed_valid, qmsum):
    df = pl.concat([ed_valid[0], qmsum["valid"][0]])
    a, b = sample_contexts(df, 8, seed=13), sample_contexts(df.reverse(), 8, seed=13)
    assert a.equals(b)
    assert a["context_id"].to_list() == sorted(a["context_id"])
    assert dict(a.group_by("domain").len().iter_rows()) == {d: 8 for d in df["domain"].unique()}
    assert set(a["context_id"]) != set(sample_contexts(df, 8, seed=14)["context_id"])
    assert sample_contexts(df, None, seed=13).equals(df.sort("context_id"))
    small = df.filter(pl.col("domain") == "committee").head(3)
    assert sample_contexts(small, 8, seed=1).height == 3
    # a context's fate depends only on (seed, its id), not on the rest of the table
    sub = df.filter(pl.col("domain") == "academic")
    assert set(sample_contexts(sub, 8, 13)["context_id"]) == set(a.filter(pl.col("domain") == "academic")["context_id"])
