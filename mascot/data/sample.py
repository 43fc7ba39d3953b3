"""The bundled offline sample: small, hand-written data in the real datasets' formats.

A fresh clone runs the whole pipeline on this sample with no download. Every word of it
was written for this project (nothing is copied from EmpatheticDialogues or QMSum) and
lives as data beside this module, in ``mascot/data/sample_source/``:
``empathetic_dialogues.yaml`` (the conversations) and ``qmsum.yaml`` (the meetings, their
summaries and queries); each file's header says what its keys mean. This module holds
only the formats, which follow the real datasets so that the real loaders read the sample:

* EmpatheticDialogues, original distribution layout: ``empathetic_dialogues/
  {train,valid,test}.csv``, header ``conv_id,utterance_idx,context,prompt,
  speaker_idx,utterance,selfeval,tags``, plain commas, no quoting, ``_comma_``
  for a comma inside text, ``\\n`` line ends, one row per utterance.
  train has one conversation per emotion label (32); valid and test have 12
  each, four positive, four negative and four neutral.
* QMSum: ``qmsum/{Academic,Committee,Product}/{train,val,test}/<id>.json``, one
  meeting per file with exactly QMSum's four keys and ``json.dumps(indent=4)``
  layout, plus ``qmsum/Product/jsonl/train.jsonl`` (one meeting per line).
  Academic and Product turns get QMSum's spoken style on writing (a space before
  punctuation; the sources also carry ``um``/``uh``, ``{disfmarker}``,
  ``{vocalsound}``); Committee turns read like an edited public record, as in QMSum.

:func:`write_sample` writes it all, byte-identical on every run; ``mascot sample
write data/sample`` calls it. ``tests/test_sample.py`` checks that the committed
``data/sample`` equals what this module writes from the sources.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from mascot.data.valence import VALENCE
from mascot.yaml_files import load_yaml_model

__all__ = [
    "ED_EMOTIONS",
    "ED_HEADER",
    "ED_SPLITS",
    "QMSUM_DOMAINS",
    "QMSUM_SPLITS",
    "QMSUM_KEYS",
    "SOURCE_DIR",
    "Conversation",
    "Meeting",
    "ed_sample",
    "empathetic_rows",
    "meeting_json",
    "meetings",
    "write_sample",
]

ED_HEADER = "conv_id,utterance_idx,context,prompt,speaker_idx,utterance,selfeval,tags"
ED_SPLITS = ("train", "valid", "test")
ED_EMOTIONS = tuple(sorted(VALENCE))  # EmpatheticDialogues' 32 labels
QMSUM_DOMAINS = ("Academic", "Committee", "Product")
QMSUM_SPLITS = ("train", "val", "test")
QMSUM_KEYS = ("topic_list", "general_query_list", "specific_query_list", "meeting_transcripts")

# the hand-written text of the sample (package data, shipped with the wheel)
SOURCE_DIR = Path(__file__).with_name("sample_source")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------------------
# EmpatheticDialogues
# ---------------------------------------------------------------------------


class Conversation(_Record):
    """One EmpatheticDialogues conversation: the speaker opens, the listener answers, alternating."""

    emotion: str
    prompt: str
    utterances: tuple[str, ...]

    @field_validator("emotion")
    @classmethod
    def _known_emotion(cls, emotion: str) -> str:
        if emotion not in ED_EMOTIONS:
            raise ValueError(f"unknown emotion {emotion!r}, not one of EmpatheticDialogues' 32")
        return emotion


class _EmpatheticSource(_Record):
    train: tuple[Conversation, ...]
    valid: tuple[Conversation, ...]
    test: tuple[Conversation, ...]


@cache
def ed_sample() -> dict[str, tuple[Conversation, ...]]:
    """Each split's conversations, read from ``sample_source/empathetic_dialogues.yaml``."""
    source = load_yaml_model(SOURCE_DIR / "empathetic_dialogues.yaml", _EmpatheticSource, "sample source", ValueError)
    return {split: getattr(source, split) for split in ED_SPLITS}


# conv ids, speaker ids and self-evaluations are bookkeeping fields; they are derived
# deterministically so that the conversations in the source stay readable.
_HIT_BASE = {"train": 1, "valid": 401, "test": 701}
_SELFEVALS = (
    "5|5|5_5|5|5", "4|5|5_5|4|5", "5|5|4_4|5|5", "5|4|5_5|5|4", "4|4|5_5|5|5",
    "5|5|5_4|4|4", "3|4|5_5|5|5", "5|5|5_5|4|5", "4|5|4_5|5|5",
)  # fmt: skip


def _escape(text: str) -> str:
    if "\n" in text or "\r" in text or '"' in text or "_comma_" in text:
        raise ValueError(f"sample text unfit for the unquoted EmpatheticDialogues layout: {text!r}")
    return text.replace(",", "_comma_")


def empathetic_rows(split: str) -> list[list[str]]:
    """The rows (header excluded) of one split, fields escaped and ready to join with plain commas."""
    rows: list[list[str]] = []
    for i, conv in enumerate(ed_sample()[split]):
        hit = _HIT_BASE[split] + 3 * i + i % 2
        conv_id = f"hit:{hit}_conv:{2 * hit + i % 2}"
        speaker = 1 + (7 * i + _HIT_BASE[split]) % 53
        listener = speaker + 1 + (5 * i) % 11
        selfeval = _SELFEVALS[(i + len(split)) % len(_SELFEVALS)]
        for j, utterance in enumerate(conv.utterances, start=1):
            rows.append(
                [
                    conv_id,
                    str(j),
                    conv.emotion,
                    _escape(conv.prompt),
                    str(speaker if j % 2 else listener),
                    _escape(utterance),
                    selfeval,
                    "",
                ]
            )
    return rows


def _empathetic_csv(split: str) -> str:
    lines = [ED_HEADER] + [",".join(row) for row in empathetic_rows(split)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# QMSum
# ---------------------------------------------------------------------------


class Span(_Record):
    """Consecutive turns of one section, counted from 0 inside it; ``last_turn`` -1 is its last turn."""

    section: int
    first_turn: int
    last_turn: int


class Query(_Record):
    """A specific query, its answer and the spans of turns it draws on."""

    query: str
    answer: str
    spans: tuple[Span, ...]


class Section(_Record):
    """One topic of a meeting and the consecutive (speaker, text) turns that make it up."""

    topic: str
    turns: tuple[tuple[str, str], ...]

    @field_validator("turns", mode="before")
    @classmethod
    def _speaker_text(cls, turns: object) -> object:
        # in the source a turn is a one-key mapping, `speaker: text`
        if not isinstance(turns, list):
            return turns
        pairs = []
        for turn in turns:
            if not (isinstance(turn, dict) and len(turn) == 1):
                raise ValueError(f"a turn is one `speaker: text` pair, got {turn!r}")
            pairs.append(next(iter(turn.items())))
        return pairs


class Meeting(_Record):
    """One QMSum meeting; its domain is the key it sits under in ``qmsum.yaml``."""

    id: str
    split: Literal["train", "val", "test"]
    sections: tuple[Section, ...]
    general_query: str
    summary: str
    queries: tuple[Query, ...]


class _QMSumSource(_Record):
    Academic: tuple[Meeting, ...]
    Committee: tuple[Meeting, ...]
    Product: tuple[Meeting, ...]


@cache
def meetings() -> dict[str, tuple[Meeting, ...]]:
    """Each domain's meetings, read from ``sample_source/qmsum.yaml``."""
    source = load_yaml_model(SOURCE_DIR / "qmsum.yaml", _QMSumSource, "sample source", ValueError)
    return {domain: getattr(source, domain) for domain in QMSUM_DOMAINS}


# QMSum's Academic and Product transcripts are tokenized speech: a space before each
# punctuation mark ("OK , so ."). Committee transcripts are edited prose and stay as written.
_SPOKEN_DOMAINS = ("Academic", "Product")
_PUNCT = re.compile(r"(?<=\S)([.,?!;:])(?=\s|$)")


def _spoken(text: str) -> str:
    return _PUNCT.sub(r" \1", text)


def meeting_json(meeting: Meeting, domain: str) -> dict:
    """One meeting of ``domain`` as QMSum's JSON object: the four keys, in QMSum's order, spans as string
    pairs; Academic and Product turns get QMSum's spoken-style tokenization."""
    starts: list[int] = []
    transcript: list[dict[str, str]] = []
    for section in meeting.sections:
        starts.append(len(transcript))
        for speaker, text in section.turns:
            content = _spoken(text) if domain in _SPOKEN_DOMAINS else text
            transcript.append({"speaker": speaker, "content": content})
    ends = [s - 1 for s in starts[1:]] + [len(transcript) - 1]

    def span(section: int, first: int, last: int) -> list[str]:
        n = len(meeting.sections[section].turns)
        last = n - 1 if last == -1 else last
        if not 0 <= first <= last < n:
            raise ValueError(f"{meeting.id}: span ({section}, {first}, {last}) outside a section of {n} turns")
        return [str(starts[section] + first), str(starts[section] + last)]

    return {
        "topic_list": [
            {"topic": s.topic, "relevant_text_span": [[str(starts[i]), str(ends[i])]]}
            for i, s in enumerate(meeting.sections)
        ],
        "general_query_list": [{"query": meeting.general_query, "answer": meeting.summary}],
        "specific_query_list": [
            {
                "query": q.query,
                "answer": q.answer,
                "relevant_text_span": [span(s.section, s.first_turn, s.last_turn) for s in q.spans],
            }
            for q in meeting.queries
        ],
        "meeting_transcripts": transcript,
    }


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

_README = """\
# MASCOT offline sample

This folder is the project's offline default data, so that a fresh clone runs
the whole pipeline with no download. Every conversation, meeting, summary and
query here was written for this project; none of it is taken from
EmpatheticDialogues or QMSum. Only the file formats are the same, so the loaders
for the real datasets read it as is.

The text lives in `mascot/data/sample_source/` (`empathetic_dialogues.yaml`,
`qmsum.yaml`); `mascot/data/sample.py` writes it here in the datasets' formats.

Licence: the same as the project (Apache-2.0).

## Contents

- `empathetic_dialogues/{{train,valid,test}}.csv`: the original EmpatheticDialogues
  distribution layout, header
  `{ed_header}`.
  Fields are joined with plain commas, a comma inside text is written `_comma_`,
  nothing is quoted, lines end with `\\n`, one row per utterance. The first
  speaker tells a situation (`prompt`, labelled with one of the 32 emotions in
  `context`) and the listener answers.
{ed_counts}
- `qmsum/{{Academic,Committee,Product}}/{{train,val,test}}/<meeting>.json`: one meeting
  per file with QMSum's keys `topic_list`, `general_query_list`,
  `specific_query_list` and `meeting_transcripts`; spans are inclusive turn
  indices written as strings. Meetings per train/val/test:
{qm_counts}
- `qmsum/Product/jsonl/train.jsonl`: the Product train meetings again in QMSum's
  JSONL form, one meeting object per line.

## Regenerate

Do not edit these files by hand. Change the text in `mascot/data/sample_source/`
(or a format in `mascot/data/sample.py`), then run

    mascot sample write data/sample

`tests/test_sample.py` fails when the files here differ from what the module writes.
"""


def _readme() -> str:
    ed_counts = "\n".join(
        f"  - {split}: {len(convs)} conversations, {sum(len(c.utterances) for c in convs)} rows"
        for split, convs in ed_sample().items()
    )
    qm_counts = "\n".join(
        f"  - {domain}: " + "/".join(str(sum(m.split == s for m in domain_meetings)) for s in QMSUM_SPLITS)
        for domain, domain_meetings in meetings().items()
    )
    return _README.format(ed_header=ED_HEADER, ed_counts=ed_counts, qm_counts=qm_counts)


def _files() -> list[tuple[str, str]]:
    """(relative path, text) of every sample file, in a fixed order."""
    files: list[tuple[str, str]] = [("README.md", _readme()), (".gitattributes", "* -text\n")]
    for split in ED_SPLITS:
        files.append((f"empathetic_dialogues/{split}.csv", _empathetic_csv(split)))
    seen: set[str] = set()
    for domain, domain_meetings in meetings().items():
        for meeting in domain_meetings:
            if meeting.id in seen:
                raise ValueError(f"duplicate meeting id {meeting.id}")
            seen.add(meeting.id)
            # QMSum's own files: json.dumps(indent=4), no newline at the end
            text = json.dumps(meeting_json(meeting, domain), indent=4)
            files.append((f"qmsum/{domain}/{meeting.split}/{meeting.id}.json", text))
    jsonl = [json.dumps(meeting_json(m, "Product")) for m in meetings()["Product"] if m.split == "train"]
    files.append(("qmsum/Product/jsonl/train.jsonl", "\n".join(jsonl) + "\n"))
    return files


def write_sample(root: Path) -> list[Path]:
    """Write the sample under ``root`` (created if missing) and return the written paths.

    The output is byte-identical on every run and platform (UTF-8, ``\\n`` line ends).
    Files already in ``root`` that the sample does not contain are left alone.
    """
    root = Path(root)
    written: list[Path] = []
    for rel, text in _files():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written
