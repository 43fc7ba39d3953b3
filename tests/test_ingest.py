"""The ingest step on the bundled sample (the offline default) and on the real data folder."""

from __future__ import annotations

import polars as pl

from mascot.config import IngestConfig
from mascot.data.ingest import ingest
from mascot.schemas import ALL_DOMAINS, CONTEXTS, validate

from .conftest import REPO


def test_bundled_sample_gives_every_domain_and_no_damage(monkeypatch):
    monkeypatch.chdir(REPO)
    contexts, report = ingest(IngestConfig(splits=["train", "valid", "test"]))
    validate(contexts, CONTEXTS)
    assert len(report) == 0, report.log_lines()
    counts = {
        (r["split"], r["domain"]): r["len"] for r in contexts.group_by("split", "domain").len().iter_rows(named=True)
    }
    for split in ("train", "valid", "test"):
        for domain in ALL_DOMAINS:
            assert counts.get((split, domain), 0) > 0, f"no {split} contexts for {domain}"
    # train keeps everything (n_per_domain.train is null); valid is capped at 8 per domain
    assert max(n for (split, _), n in counts.items() if split == "valid") <= 8
    assert contexts.filter(pl.col("split") == "train")["reference"].null_count() < contexts.height


def test_real_data_sampled_per_domain(shared_data):
    cfg = IngestConfig(
        empathetic_dialogues=str(shared_data / "empathetic_dialogues"),
        qmsum=str(shared_data / "qmsum"),
        splits=["valid"],
        n_per_domain={"valid": 5},
    )
    contexts, report = ingest(cfg)
    validate(contexts, CONTEXTS)
    assert sorted(contexts.group_by("domain").len().rows()) == [(d, 5) for d in sorted(ALL_DOMAINS)]
    assert report.counts()["kind_swallowed_lines"] == 5
    again, _ = ingest(cfg)
    assert again.equals(contexts), "sampling is deterministic"
