"""A crash-safe, append-only record store that lets long stages resume.

Each finished unit of work (a batch of generations, later a judgment) is
appended as one JSON line and flushed to disk before the next starts. A killed
run loses at most the unit in flight; the rerun reads the file and skips what is
there. Keys are hashes of everything that determines the result (model
fingerprint, prompt, sampling parameters, seed), so a changed input is never
served a stale answer. A torn last line (killed mid-write) is ignored, and the next
append starts on a fresh line.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def stable_hash(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def fingerprint_dir(path: str | Path) -> str:
    """Content hash of a model folder, so cached results die with the weights they came from."""
    path = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


class RecordStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: dict[str, Any] = {}
        self.torn_lines = 0
        # Read as bytes, line by line: a kill can cut a write inside a multi-byte character, and
        # that line alone is torn (decoding the whole file would refuse every record in it).
        data = self.path.read_bytes() if self.path.exists() else b""
        for line in data.splitlines():
            try:
                item = json.loads(line.decode("utf-8"))
                self.records[item["key"]] = item["value"]
            except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
                self.torn_lines += 1
        # the next append must start on a line of its own, not finish the torn one
        self._open_line = bool(data) and not data.endswith(b"\n")
        self.loaded = len(self.records)

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def get(self, key: str) -> Any:
        return self.records[key]

    def put_many(self, items: Iterable[tuple[str, Any]]) -> None:
        lines = []
        for key, value in items:
            self.records[key] = value
            lines.append(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")
        if self._open_line:
            lines.insert(0, "\n")
            self._open_line = False
        with self.path.open("a", encoding="utf-8") as fh:
            fh.writelines(lines)
            fh.flush()
            os.fsync(fh.fileno())

    def compact(self, keep: Iterable[str]) -> None:
        """Rewrite the file with only ``keep``: after a finished run, records of abandoned
        inputs (an older model, other params) would only grow the file."""
        keep = [k for k in dict.fromkeys(keep) if k in self.records]
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"key": k, "value": self.records[k]}, ensure_ascii=False) + "\n" for k in keep)
        tmp.replace(self.path)
        self.records = {k: self.records[k] for k in keep}
        self._open_line = False
