"""EmpatheticDialogues (Rashkin et al., 2019) → ``contexts`` rows.

Layouts
-------
Two CSV layouts share the header
``conv_id,utterance_idx,context,prompt,speaker_idx,utterance,selfeval,tags``:

* **original** (the upstream tarball): one physical line per utterance, fields split on
  plain commas, ``_comma_`` standing for a comma, no quoting at all (a ``"`` is just a
  character), and some lines carry extra trailing fields, which are ignored.
* **quoted** (re-exports such as ``shared/data/empathetic_dialogues/valid.csv``):
  standard CSV quoting, CRLF line ends.

:func:`detect_layout` decides by the quotes, the only characters the layouts treat
differently. It walks the file record by record with the strict CSV grammar (a field is
either free of quotes and commas, or wholly quoted with inner quotes doubled, newlines
allowed). A quote-bearing record that fits the grammar votes *quoted*; a line that
does not fit votes *original*: a CSV writer never leaves a bare quote inside a field,
while original text is full of them (``say "happy birthday" and``). Multi-line quoted
records count for *quoted* too, which a line-by-line test would miss. Ties (e.g. no
quotes at all, where both parsers agree anyway) go to original.

Damage and what happens to it
-----------------------------
Everything below is recorded in the :class:`~mascot.data.issues.IngestReport` with
file and physical line. *Repaired* damage keeps the data; damage that leaves a
conversation's turn order or labels untrustworthy drops the whole conversation, since
a context is a conversation prefix and a hole in it would put words in the wrong mouth.

============================  ==============================================================
kind                          action
============================  ==============================================================
``non_utf8``                  repaired: the line is decoded with U+FFFD replacement
``swallowed_lines``           repaired: a field that opened with an unmatched ``"`` (in the
                              file the export was made from) swallowed the following raw
                              lines; those lines are original-layout rows, so they are
                              re-parsed as rows with their own line numbers (and the
                              eaten opening quote is restored)
``embedded_newline``          repaired: a newline inside a field that swallowed no rows is
                              replaced by a space
``too_few_fields``            dropped (row): fewer fields than the header; its
                              conversation then also fails the gap check
``bad_field``                 dropped (row): empty conv_id or non-integer utterance_idx
``duplicate_utterance``       repaired when the copies are identical (one kept), else
                              the conversation is dropped
``utterance_gap``             dropped (conversation): utterance_idx is not 1..n
``unknown_emotion``           dropped (conversation): no valence, hence no domain
``inconsistent_emotion``      dropped (conversation): rows disagree on the emotion
``speaker_not_alternating``   dropped (conversation): speaker roles cannot be assigned
``empty_utterance``           dropped (conversation)
``empty_situation``           dropped (conversation)
``truncated``                 repaired: an utterance or situation longer than ``max_turn_chars`` is cut
============================  ==============================================================

An empty or missing file, a header without a required column, or a header with no
data rows is a :class:`~mascot.data.issues.DataError`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from mascot.data.issues import DataError, IngestReport, contexts_frame, cut
from mascot.data.valence import UnknownEmotion, valence

REQUIRED = ("conv_id", "utterance_idx", "context", "prompt", "speaker_idx", "utterance")
SPLITS = ("train", "valid", "test")
_ROLES = ("user", "companion")  # the conversation's first speaker, then the listener

# One CSV field: unquoted without quotes or commas, or quoted with inner quotes doubled
# (newlines allowed inside); a record is fields up to an unquoted line end.
_CSV_FIELD = r'(?:[^,"\r\n]*|"(?:[^"]|"")*")'
_CSV_RECORD = re.compile(rf"{_CSV_FIELD}(?:,{_CSV_FIELD})*(?:\r?\n|\r?\Z)")

# A whole quoted record can be a swallowed multi-megabyte field; the default limit
# (128 KiB) would turn that into a csv.Error instead of a reported repair.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))


@dataclass
class _Utterance:
    line: int
    conv_id: str
    idx: int
    emotion: str
    situation: str
    speaker: str
    text: str


def load_empathetic_dialogues(
    path: str | Path, split: str, report: IngestReport, *, max_turn_chars: int = 2000
) -> pl.DataFrame:
    """One context per listener turn of every conversation in an ED CSV file.

    A conversation ``u1 … un`` (speaker of ``u1`` = ``"user"``, the other =
    ``"companion"``) gives a context at every even ``utterance_idx`` k: history
    ``u1 … u(k-1)``, reference ``uk``. ``source`` is ``"<file name>:<line of uk>"``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if max_turn_chars < 2:
        raise ValueError(f"max_turn_chars must be >= 2, got {max_turn_chars}")
    path = Path(path)
    lines = _read_lines(path, report)
    header = _header(path, lines[0])
    if len(lines) < 2 or not any(line.strip() for line in lines[1:]):
        raise DataError(path, "has a header but no data rows", line=1)
    layout = detect_layout("\n".join(lines))
    records = _quoted_records(path, lines, header, report) if layout == "quoted" else _original_records(lines)
    utterances = [u for line, fields in records if (u := _utterance(path, line, fields, header, report))]
    rows: list[dict[str, Any]] = []
    for conv_id, conv in _group(utterances).items():
        conv = _checked(path, conv_id, conv, report)
        if conv is not None:
            rows.extend(_contexts(path, split, conv_id, conv, report, max_turn_chars))
    return contexts_frame(rows)


def detect_layout(text: str) -> Literal["original", "quoted"]:
    """``"quoted"`` when more quote-bearing records fit the CSV grammar than lines that do not."""
    votes = {"quoted": 0, "original": 0}
    pos = text.find("\n") + 1 if "\n" in text else len(text)  # skip the header
    while pos < len(text):
        eol = text.find("\n", pos)
        eol = len(text) if eol < 0 else eol + 1
        record = _CSV_RECORD.match(text, pos)
        if record and record.end() > pos:
            if '"' in record.group():
                votes["quoted"] += 1
            pos = record.end()
        else:
            if '"' in text[pos:eol]:
                votes["original"] += 1
            pos = eol
    return "quoted" if votes["quoted"] > votes["original"] else "original"


def _read_lines(path: Path, report: IngestReport) -> list[str]:
    """Physical lines without their ``\\n``, decoded one by one so a bad byte is reported
    with its line and spoils nothing else."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot read: {exc.strerror}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise DataError(path, "empty file")
    raw = data.split(b"\n")
    if raw[-1] == b"":
        raw.pop()
    lines = []
    for no, chunk in enumerate(raw, start=1):
        try:
            lines.append(chunk.decode("utf-8"))
        except UnicodeDecodeError as exc:
            bad = chunk[exc.start : exc.end]
            report.add(path, no, "non_utf8", f"byte(s) {bad!r} at column {exc.start + 1} are not UTF-8; "
                       "decoded with U+FFFD replacement", "repaired")  # fmt: skip
            lines.append(chunk.decode("utf-8", errors="replace"))
    return lines


@dataclass(frozen=True)
class _Header:
    index: dict[str, int]  # required column → position
    width: int  # number of header columns; a shorter row is damaged


def _header(path: Path, line: str) -> _Header:
    names = [n.strip() for n in next(csv.reader([line]), [])]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(map(repr, missing))}; header is {names}", line=1)
    return _Header({name: names.index(name) for name in REQUIRED}, len(names))


def _split_original(line: str) -> list[str]:
    # The original layout has no quoting: a comma always separates fields.
    return line.rstrip("\r").split(",")


def _original_records(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    for no, line in enumerate(lines[1:], start=2):
        if line.strip():
            yield no, _split_original(line)


def _quoted_records(
    path: Path, lines: list[str], header: _Header, report: IngestReport
) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(line + "\n" for line in lines[1:])
    end = 1  # physical line where the previous record ended
    for fields in reader:
        start, end = end + 1, 1 + reader.line_num
        if not fields:
            continue
        if any("\n" in f for f in fields):
            yield from _repair_multiline(path, start, end, fields, header, report)
        else:
            yield start, fields


def _is_raw_row(segment: str, header: _Header) -> bool:
    fields = _split_original(segment)
    return len(fields) >= header.width and fields[header.index["utterance_idx"]].strip().isdigit()


def _repair_multiline(
    path: Path, start: int, end: int, fields: list[str], header: _Header, report: IngestReport
) -> Iterator[tuple[int, list[str]]]:
    """A record spanning lines ``start..end``: either a text field with a newline in it
    (join the pieces), or a field that swallowed whole raw rows (re-parse them)."""
    for j, value in enumerate(fields):
        segments = [s.rstrip("\r") for s in value.split("\n")]
        if len(segments) == 1:
            continue
        rows = sum(_is_raw_row(s, header) for s in segments[1:])
        if not rows:
            report.add(path, start, "embedded_newline", f"field {j + 1} spans lines {start}-{end}; "
                       "newlines replaced by spaces", "repaired")  # fmt: skip
            fields[j] = " ".join(segments)
            continue
        report.add(path, start, "swallowed_lines", f"field {j + 1} opens with an unmatched quote and swallowed "
                   f"lines {start + 1}-{start + len(segments) - 1} ({rows} raw rows); re-parsed them as rows",
                   "repaired")  # fmt: skip
        # The swallowing field also took the rest of its own raw line (utterance,selfeval,tags…),
        # and the first reader ate its opening quote as CSV quoting: put it back, as in the original.
        # Segments that are not rows reach the row checks and are reported there.
        yield start, fields[:j] + _split_original('"' + segments[0])
        for k in range(1, len(segments)):
            yield start + k, _split_original(segments[k])
        return
    yield start, fields


def _text(value: str) -> str:
    return value.replace("_comma_", ",").strip()


def _utterance(
    path: Path, line: int, fields: list[str], header: _Header, report: IngestReport
) -> _Utterance | None:
    if len(fields) < header.width:
        report.add(path, line, "too_few_fields", f"{len(fields)} field(s), header has {header.width}; "
                   "row dropped", "dropped")  # fmt: skip
        return None
    get = {name: fields[i] for name, i in header.index.items()}
    conv_id, idx = get["conv_id"].strip(), get["utterance_idx"].strip()
    if not conv_id or not idx.isdigit():
        report.add(path, line, "bad_field", f"conv_id {conv_id!r}, utterance_idx {idx!r}; row dropped", "dropped")
        return None
    return _Utterance(
        line=line,
        conv_id=conv_id,
        idx=int(idx),
        emotion=get["context"].strip().lower(),
        situation=_text(get["prompt"]),
        speaker=get["speaker_idx"].strip(),
        text=_text(get["utterance"]),
    )


def _group(utterances: list[_Utterance]) -> dict[str, list[_Utterance]]:
    convs: dict[str, list[_Utterance]] = {}
    for u in utterances:
        convs.setdefault(u.conv_id, []).append(u)
    return convs


def _checked(path: Path, conv_id: str, conv: list[_Utterance], report: IngestReport) -> list[_Utterance] | None:
    """The conversation in utterance order, or None (reported) when it must be dropped."""
    conv = sorted(conv, key=lambda u: (u.idx, u.line))
    kept: list[_Utterance] = []
    for u in conv:
        if kept and kept[-1].idx == u.idx:
            prev = kept[-1]
            if _content(prev) != _content(u):
                detail = f"utterance_idx {u.idx} also on line {prev.line} with different content"
                return _drop(path, u.line, "duplicate_utterance", conv_id, detail, report)
            report.add(path, u.line, "duplicate_utterance", f"conversation {conv_id}: utterance_idx {u.idx} repeats "
                       f"line {prev.line} identically; copy dropped", "repaired")  # fmt: skip
            continue
        kept.append(u)
    idxs = [u.idx for u in kept]
    if idxs != list(range(1, len(idxs) + 1)):
        missing = sorted(set(range(1, max(idxs) + 1)) - set(idxs))
        return _drop(path, kept[0].line, "utterance_gap", conv_id,
                     f"utterance_idx {idxs}, missing {missing}", report)  # fmt: skip
    emotions = sorted({u.emotion for u in kept})
    if len(emotions) > 1:
        return _drop(path, kept[0].line, "inconsistent_emotion", conv_id, f"rows disagree: {emotions}", report)
    try:
        valence(emotions[0])
    except UnknownEmotion as exc:
        return _drop(path, kept[0].line, "unknown_emotion", conv_id, str(exc), report)
    speakers = [u.speaker for u in kept]
    if len(set(speakers[0::2])) > 1 or len(set(speakers[1::2])) > 1 or speakers[0:1] == speakers[1:2]:
        return _drop(path, kept[0].line, "speaker_not_alternating", conv_id, f"speaker_idx {speakers}", report)
    for u in kept:
        if not u.text:
            return _drop(path, u.line, "empty_utterance", conv_id, f"utterance_idx {u.idx} is empty", report)
    if not kept[0].situation:
        return _drop(path, kept[0].line, "empty_situation", conv_id, "prompt (situation) is empty", report)
    return kept


def _content(u: _Utterance) -> tuple[str, ...]:
    return u.text, u.speaker, u.emotion, u.situation


def _drop(path: Path, line: int, kind: str, conv_id: str, detail: str, report: IngestReport) -> None:
    report.add(path, line, kind, f"conversation {conv_id}: {detail}; conversation dropped", "dropped")
    return None


def _contexts(
    path: Path, split: str, conv_id: str, conv: list[_Utterance], report: IngestReport, max_chars: int
) -> Iterator[dict[str, Any]]:
    def capped(text: str, line: int, what: str) -> str:
        if len(text) > max_chars:
            report.add(path, line, "truncated", f"conversation {conv_id}, {what}: {len(text)} chars cut to {max_chars}",
                       "repaired")  # fmt: skip
        return cut(text, max_chars)

    texts = [capped(u.text, u.line, f"utterance_idx {u.idx}") for u in conv]
    # the situation goes into every prompt of the conversation, as the turns do
    situation = capped(conv[0].situation, conv[0].line, "prompt (situation)")
    emotion = conv[0].emotion
    for k in range(1, len(conv), 2):  # positions of utterance_idx 2, 4, …: the listener's turns
        yield {
            "context_id": f"ed/{split}/{conv_id}/{conv[k].idx}",
            "dataset": "empathetic_dialogues",
            "split": split,
            "domain": valence(emotion),
            "emotion": emotion,
            "situation": situation,
            "history": [{"speaker": _ROLES[i % 2], "text": t} for i, t in enumerate(texts[:k])],
            "query": None,
            "reference": texts[k],
            "source": f"{path.name}:{conv[k].line}",
        }
