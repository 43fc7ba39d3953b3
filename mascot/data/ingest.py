"""The ingest step as a library call: every configured dataset and split → one sampled contexts table."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mascot.config import IngestConfig
from mascot.data.empathetic import load_empathetic_dialogues
from mascot.data.issues import IngestReport
from mascot.data.qmsum import load_qmsum
from mascot.data.sampling import sample_contexts


def ingest(cfg: IngestConfig) -> tuple[pl.DataFrame, IngestReport]:
    report = IngestReport()
    sampled = []
    for split in cfg.splits:
        frames = []
        if "empathetic_dialogues" in cfg.datasets:
            path = Path(cfg.empathetic_dialogues) / f"{split}.csv"
            frames.append(load_empathetic_dialogues(path, split, report, max_turn_chars=cfg.max_turn_chars))
        if "qmsum" in cfg.datasets:
            frames.append(
                load_qmsum(
                    cfg.qmsum, split, report, window_turns=cfg.window_turns, max_turn_chars=cfg.max_turn_chars
                )
            )
        sampled.append(sample_contexts(pl.concat(frames), cfg.n_per_domain.get(split), cfg.seed))
    return pl.concat(sampled).sort("context_id"), report
