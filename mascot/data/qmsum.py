"""QMSum (Zhong et al., 2021) meetings → ``contexts`` rows.

Layouts (per domain; the first one found is used, so a meeting is never loaded twice):

* ``root/{Academic,Committee,Product}/{split}/*.json``: one meeting per file, the
  meeting id is the file stem;
* ``root/{Academic,Committee,Product}/jsonl/{split}.jsonl``: upstream's form, one
  meeting per line, the meeting id is ``f"{split}-{line_no}"``.

On disk the validation split is called ``val``; callers use the project's ``valid``.

Contexts: one per ``topic_list`` item and one per ``specific_query_list`` item
(``general_query_list`` items summarise the whole meeting and have no span, so they
cannot be placed in the transcript). An item's *first* span places it: the history is
the last ``window_turns`` non-empty transcript turns of that span (never reaching
back before the span's start, so the history stays on the topic), and the reference
is the next non-empty turn after the span (None at the end of the meeting). A query's
situation names the topic whose span covers the query's span end, or is a generic
"<Domain> meeting." line when no topic does.

Damage: a bad span (not two integers, negative, start > end, past the transcript) or
an empty topic/query drops that context and is reported with file and key path; turns
longer than ``max_turn_chars`` (and topics or queries that long), empty turns (skipped) and blank speakers are repaired
and reported once per meeting with a count. Missing file/folder, empty file, invalid
JSON and missing keys are a :class:`~mascot.data.issues.DataError` naming the file
(and line for JSONL) and the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from mascot.data.issues import DataError, IngestReport, contexts_frame, cut

DOMAIN_DIRS = {"academic": "Academic", "committee": "Committee", "product": "Product"}
DISK_SPLIT = {"train": "train", "valid": "val", "test": "test"}


@dataclass(frozen=True)
class _Meeting:
    id: str
    file: Path
    line: int | None  # JSONL line, None for a per-meeting file
    source: str  # file relative to the root (machine independent), plus ":line" for JSONL
    data: dict[str, Any]


def load_qmsum(
    root: str | Path,
    split: str,
    report: IngestReport,
    *,
    domains: tuple[str, ...] = ("academic", "committee", "product"),
    window_turns: int = 12,
    max_turn_chars: int = 600,
) -> pl.DataFrame:
    """Topic and specific-query contexts of every meeting of ``split`` in ``domains``."""
    split = "valid" if split == "val" else split
    if split not in DISK_SPLIT:
        raise ValueError(f"split must be one of {tuple(DISK_SPLIT)}, not {split!r}")
    if window_turns < 1 or max_turn_chars < 2:
        raise ValueError(f"window_turns must be >= 1 and max_turn_chars >= 2 (got {window_turns}, {max_turn_chars})")
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "QMSum root folder not found")
    rows: list[dict[str, Any]] = []
    for domain in domains:
        if domain not in DOMAIN_DIRS:
            raise ValueError(f"unknown QMSum domain {domain!r}; known: {sorted(DOMAIN_DIRS)}")
        for meeting in _meetings(root, domain, DISK_SPLIT[split], report):
            rows.extend(_Contexts(meeting, split, domain, report, window_turns, max_turn_chars).rows())
    return contexts_frame(rows)


def _meetings(root: Path, domain: str, disk_split: str, report: IngestReport) -> Iterator[_Meeting]:
    folder = root / DOMAIN_DIRS[domain] / disk_split
    jsonl = root / DOMAIN_DIRS[domain] / "jsonl" / f"{disk_split}.jsonl"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if files:
        for file in files:
            text = _read_text(file, report)
            yield _Meeting(file.stem, file, None, file.relative_to(root).as_posix(), _parse(file, text, None))
    elif jsonl.is_file():
        text = _read_text(jsonl, report)
        rel = jsonl.relative_to(root).as_posix()
        for no, line in enumerate(text.splitlines(), start=1):
            if line.strip():  # blank lines carry no meeting
                yield _Meeting(f"{disk_split}-{no}", jsonl, no, f"{rel}:{no}", _parse(jsonl, line, no))
    else:
        raise DataError(root / DOMAIN_DIRS[domain], f"no meetings: neither {disk_split}/*.json nor "
                        f"jsonl/{disk_split}.jsonl exists")  # fmt: skip


def _read_text(file: Path, report: IngestReport) -> str:
    data = file.read_bytes()
    if not data.strip():
        raise DataError(file, "empty file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        report.add(file, line, "non_utf8", f"byte(s) {data[exc.start : exc.end]!r} are not UTF-8; decoded with "
                   "U+FFFD replacement", "repaired")  # fmt: skip
        return data.decode("utf-8-sig", errors="replace")


def _parse(file: Path, text: str, line: int | None) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        at = line if line is not None else exc.lineno
        raise DataError(file, f"not JSON: {exc.msg} (column {exc.colno})", line=at) from None
    if not isinstance(data, dict):
        raise DataError(file, f"expected a JSON object (one meeting), got {type(data).__name__}", line=line)
    for key in ("topic_list", "specific_query_list", "meeting_transcripts"):
        _expect(file, line, data, key, list, key)
    for i, item in enumerate(data["topic_list"]):
        for key, kind in (("topic", str), ("relevant_text_span", list)):
            _expect(file, line, item, key, kind, f"topic_list[{i}]")
    for i, item in enumerate(data["specific_query_list"]):
        for key, kind in (("query", str), ("relevant_text_span", list)):
            _expect(file, line, item, key, kind, f"specific_query_list[{i}]")
    for i, turn in enumerate(data["meeting_transcripts"]):
        for key in ("speaker", "content"):
            _expect(file, line, turn, key, str, f"meeting_transcripts[{i}]")
    return data


def _expect(file: Path, line: int | None, obj: Any, key: str, kind: type, where: str) -> None:
    if not isinstance(obj, dict):
        raise DataError(file, f"expected an object, got {type(obj).__name__}", line=line, key=where)
    if key not in obj:
        raise DataError(file, f"missing key {key!r}", line=line, key=where)
    if not isinstance(obj[key], kind):
        got = type(obj[key]).__name__
        raise DataError(file, f"{key!r} should be a {kind.__name__}, got {got}", line=line, key=where)


class _Contexts:
    """The contexts of one meeting; collects per-meeting repair counts for one report line each."""

    def __init__(
        self, meeting: _Meeting, split: str, domain: str, report: IngestReport, window: int, max_chars: int
    ) -> None:
        self.m, self.split, self.domain, self.report = meeting, split, domain, report
        self.window, self.max_chars = window, max_chars
        transcript = meeting.data["meeting_transcripts"]
        self.n_turns = len(transcript)
        self.blank_speakers = sum(not t["speaker"].strip() for t in transcript)
        self.speakers = [t["speaker"].strip() or "Unknown speaker" for t in transcript]
        self.texts = [t["content"].strip() for t in transcript]
        self.truncated: set[int] = set()

    def rows(self) -> list[dict[str, Any]]:
        topics = self.m.data["topic_list"]
        topic_spans = [(self._capped(t["topic"], f"topic_list[{i}].topic"), self._spans(t, f"topic_list[{i}]"))
                       for i, t in enumerate(topics)]  # fmt: skip
        rows = []
        for i, (topic, spans) in enumerate(topic_spans):
            where = f"topic_list[{i}]"
            if spans and self._nonempty(topic, f"{where}.topic"):
                rows.append(self._row(f"topic{i}", f"Topic under discussion: {topic}", None, spans[0], where))
        for i, item in enumerate(self.m.data["specific_query_list"]):
            where = f"specific_query_list[{i}]"
            spans = self._spans(item, where)
            query = self._capped(item["query"], f"{where}.query")
            if spans and self._nonempty(query, f"{where}.query"):
                end = spans[0][1]
                covering = [t for t, ts in topic_spans if ts and any(a <= end <= b for a, b in ts)]
                situation = f"Topic under discussion: {covering[0]}" if covering else ""
                rows.append(self._row(f"query{i}", situation, query, spans[0], where))
        self._report_repairs()
        return [r for r in rows if r is not None]

    def _spans(self, item: dict[str, Any], where: str) -> list[tuple[int, int]] | None:
        """The item's spans as turn indices, or None (reported) when any of them is bad."""
        spans = item["relevant_text_span"]
        if not spans:
            return self._bad(f"{where}.relevant_text_span", "no span")
        parsed = []
        for j, span in enumerate(spans):
            key = f"{where}.relevant_text_span[{j}]"
            if not isinstance(span, list) or len(span) != 2 or not all(_is_index(v) for v in span):
                return self._bad(key, f"{span!r} is not a pair of turn indices")
            start, end = int(span[0]), int(span[1])
            if start > end:
                return self._bad(key, f"start {start} > end {end}")
            if end >= self.n_turns:
                return self._bad(key, f"end {end} is past the transcript ({self.n_turns} turns)")
            parsed.append((start, end))
        return parsed

    def _bad(self, key: str, detail: str) -> None:
        self.report.add(self.m.file, self.m.line, "bad_span", f"{self.m.id} [{key}]: {detail}; context dropped",
                        "dropped")  # fmt: skip
        return None

    def _nonempty(self, text: str, key: str) -> bool:
        if not text:
            self.report.add(self.m.file, self.m.line, "empty_text", f"{self.m.id} [{key}] is empty; context dropped",
                            "dropped")  # fmt: skip
        return bool(text)

    def _capped(self, text: str, where: str) -> str:
        """A topic or query, stripped and cut like a turn: it goes into every prompt of its context."""
        text = text.strip()
        if len(text) > self.max_chars:
            self.report.add(self.m.file, self.m.line, "truncated", f"{self.m.id} [{where}]: {len(text)} chars cut to "
                            f"{self.max_chars} with '…'", "repaired")  # fmt: skip
        return cut(text, self.max_chars)

    def _turn(self, i: int) -> str:
        text = self.texts[i]
        if len(text) > self.max_chars:
            self.truncated.add(i)
        return cut(text, self.max_chars)

    def _row(self, name: str, topic_line: str, query: str | None, span: tuple[int, int], where: str) -> dict | None:
        start, end = span
        window = [i for i in range(end, start - 1, -1) if self.texts[i]][: self.window][::-1]
        if not window:
            self.report.add(self.m.file, self.m.line, "empty_window", f"{self.m.id} [{where}]: turns {start}-{end} "
                            "have no text; context dropped", "dropped")  # fmt: skip
            return None
        after = next((i for i in range(end + 1, self.n_turns) if self.texts[i]), None)
        dom = DOMAIN_DIRS[self.domain]
        return {
            "context_id": f"qmsum/{self.split}/{self.domain}/{self.m.id}/{name}",
            "dataset": "qmsum",
            "split": self.split,
            "domain": self.domain,
            "emotion": None,
            "situation": f"{dom} meeting. {topic_line}".strip(),
            "history": [{"speaker": self.speakers[i], "text": self._turn(i)} for i in window],
            "query": query,
            "reference": None if after is None else self._turn(after),
            "source": self.m.source,
        }

    def _report_repairs(self) -> None:
        empty = sum(not t for t in self.texts)
        for kind, count, detail in (
            ("truncated", len(self.truncated), f"turn(s) used in contexts cut to {self.max_chars} chars with '…'"),
            ("empty_turn", empty, "transcript turn(s) without text skipped in windows and references"),
            ("blank_speaker", self.blank_speakers, "turn(s) with a blank speaker named 'Unknown speaker'"),
        ):
            if count:
                self.report.add(self.m.file, self.m.line, kind, f"{self.m.id}: {count} {detail}", "repaired")


def _is_index(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
