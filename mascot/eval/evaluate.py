"""The evaluation: every system answers the same held-out contexts; judges score each agent turn
on its dataset's agent rubric and each whole reply on the group rubric; automatic metrics need no
judge. Scores are reported on 0–100 ((s − 1) / 4 × 100 for a 1–5 judge score) as the paper does.

Replies are generated per system in fixed chunks through a record store per system (a killed run
resumes; see :func:`mascot.blocks.generate_rollouts`), and judgments go through the judge cache
shared with the label stages, so only new work costs anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from mascot.blocks import generate_rollouts, redrafted_rate
from mascot.chat.directive import END
from mascot.eval.metrics import ead_n, identifiability, length_stats, ngram_counts
from mascot.eval.scoring import criterion_scores, turn_items
from mascot.eval.systems import EvalEngines, System
from mascot.format_reward import ReplyCheck
from mascot.judge import JudgeItem
from mascot.judge.blocks import block_items, block_transcripts
from mascot.judge.rubric import Rubric
from mascot.resume import RecordStore, stable_hash
from mascot.stats import bootstrap_mean, speaker_entropy

MASCOT_FAMILY = ("mascot", "mascot_p", "mascot_c")  # MASCOT and its ablations; the rest are baselines


# ------------------------------------------------------------------ replies


def generate_replies(
    engines: EvalEngines, systems: Sequence[System], contexts: pl.DataFrame, samples: int, resume_dir: Path,
    fingerprint: str, chunk_size: int, progress: Callable[[str], Callable[..., None]] = lambda system: lambda *a: None,
) -> pl.DataFrame:  # fmt: skip
    """One row per directive of every reply of every system (the rollouts table's columns plus
    ``system``); block ids are ``system|context|group|sample``."""
    tables = []
    for system in systems:
        store = RecordStore(resume_dir / f"eval_{system.name}.jsonl")
        engine = engines.engine(system)
        wrapper = engines.wrappers.get(system.name)
        rows = generate_rollouts(
            contexts, engines.cards, engines.groups(system), engine, samples, store, stable_hash(fingerprint, repr(system)),
            chunk_size, progress(system.name), getattr(wrapper, "tally", None),
        )  # fmt: skip
        table = pl.DataFrame(
            rows, schema_overrides={"sample_idx": pl.Int64, "turn": pl.Int64, "directive_problem": pl.Utf8}
        )
        tables.append(
            table.with_columns(system=pl.lit(system.name), block_id=pl.lit(system.name + "|") + pl.col("block_id"))
        )
    return pl.concat(tables).select("system", pl.exclude("system"))


# ------------------------------------------------------------------ what the judges read


def agent_items(
    replies: pl.DataFrame, contexts: pl.DataFrame, engines: EvalEngines, rubrics: Mapping[str, Rubric]
) -> list[JudgeItem]:
    """Each agent turn, judged as that persona's reply to the conversation so far (the context's
    history and the earlier turns of the same reply)."""
    by_id = {c["context_id"]: c for c in contexts.iter_rows(named=True)}
    items = []
    for (block_id,), turns in (
        replies.filter(pl.col("speaker") != END).sort("block_id", "turn").group_by("block_id", maintain_order=True)
    ):
        ctx = by_id[turns["context_id"][0]]
        items += turn_items(turns.iter_rows(named=True), ctx, list(ctx["history"] or []), engines.cards, rubrics,
                            lambda t, b=block_id: f"{b}|{t['turn']}", where="eval replies speaker")  # fmt: skip
    return items


def group_items(replies: pl.DataFrame, contexts: pl.DataFrame, engines: EvalEngines, systems: Sequence[System],
                rubric: Rubric) -> list[JudgeItem]:  # fmt: skip
    items = []
    for system in systems:
        part = replies.filter(pl.col("system") == system.name)
        blocks = block_transcripts(part, engines.cards)
        items += block_items(blocks, contexts, engines.cards, engines.groups(system), rubric)
    return items


def pair_items(replies: pl.DataFrame, contexts: pl.DataFrame, engines: EvalEngines, rubric: Rubric,
               against: str = "mascot") -> list[JudgeItem]:  # fmt: skip
    """``against``'s reply next to every other system's reply to the same (context, sample), once in
    each order: ids ``pair|{other}|{context}|{sample}|AB`` (``against`` is A) and ``…|BA``."""
    by_id = {c["context_id"]: c for c in contexts.iter_rows(named=True)}
    ids = replies.select(
        candidate_id="block_id", system="system", context_id="context_id", sample="sample_idx"
    ).unique()
    transcripts = block_transcripts(replies, engines.cards).join(ids, on=["candidate_id", "context_id"])
    blocks = {(r["system"], r["context_id"], r["sample"]): tuple(r["turns"]) for r in transcripts.iter_rows(named=True)}
    items = []
    for (system, ctx, sample), other in sorted(blocks.items()):
        mine = blocks.get((against, ctx, sample))
        if system == against or mine is None:
            continue
        context = by_id[ctx]
        group = tuple(engines.cards.get(p) for p in engines.cfg.groups()[context["dataset"]])
        for order, pair in (("AB", (mine, other)), ("BA", (other, mine))):
            items.append(JudgeItem(f"pair|{system}|{ctx}|{sample}|{order}", context, None, "", rubric,
                                   personas=group, pair=pair))  # fmt: skip
    return items


def pairwise_metrics(
    judgments: pl.DataFrame, contexts: pl.DataFrame, tie_margin: float, against: str = "mascot"
) -> dict:
    """Per dataset and opponent: ``against``'s win / tie / loss rates over (context, sample) pairs.

    A pair's preference for ``against`` is the mean over both orders of how far the judge leaned
    its way from the middle score 3 (A's side in AB, B's side in BA), from −2 to 2; above
    ``tie_margin`` is a win, below −``tie_margin`` a loss. The judge's position bias (how far it
    leans to reply B whatever it holds, averaged over all pairs) is reported too: it cancels in the
    preference because every pair is seen both ways.
    """
    pairs = judgments.filter(pl.col("candidate_id").str.starts_with("pair|") & (pl.col("status") == "ok"))
    if pairs.is_empty():
        return {}
    parts = pairs.group_by("candidate_id").agg(pl.col("score").mean()).with_columns(
        pl.col("candidate_id").str.split("|").alias("p")
    ).with_columns(
        other=pl.col("p").list.get(1), context_id=pl.col("p").list.get(2), sample=pl.col("p").list.get(3),
        order=pl.col("p").list.get(4),
    )  # fmt: skip
    wide = parts.pivot(on="order", index=["other", "context_id", "sample"], values="score").drop_nulls(["AB", "BA"])
    wide = wide.join(contexts.select("context_id", "dataset"), on="context_id").with_columns(
        preference=((3 - pl.col("AB")) + (pl.col("BA") - 3)) / 2, bias=((pl.col("AB") - 3) + (pl.col("BA") - 3)) / 2
    )
    out: dict = {}
    for (dataset, other), g in wide.sort("dataset", "other").group_by("dataset", "other", maintain_order=True):
        key = f"{dataset}.{against}_vs.{other}"
        win, loss = (g["preference"] > tie_margin).mean(), (g["preference"] < -tie_margin).mean()
        out |= {f"{key}.win": round(win, 4), f"{key}.tie": round(1 - win - loss, 4), f"{key}.loss": round(loss, 4),
                f"{key}.pairs": g.height}  # fmt: skip
    for (dataset,), g in wide.group_by("dataset"):
        out[f"{dataset}.pairwise.position_bias"] = round(float(g["bias"].mean()), 4)
    return out


# ------------------------------------------------------------------ scores per system and split


def _splits(table: pl.DataFrame) -> pl.DataFrame:
    """Each row once under its domain and once under its whole dataset."""
    return pl.concat([table.with_columns(split=pl.col("domain")), table.with_columns(split=pl.col("dataset"))])


def judged_scores(
    judgments: pl.DataFrame, replies: pl.DataFrame, contexts: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per agent turn, per reply) tables: system, context_id, dataset, domain, one 0–100 column per
    criterion (the mean over judges) and ``overall`` (the mean over criteria; null when a criterion
    was never scored)."""
    wide = criterion_scores(judgments)
    blocks = replies.select("system", "block_id", "context_id").unique()
    info = contexts.select("context_id", "dataset", "domain")

    def table(ids: pl.DataFrame) -> pl.DataFrame:
        t = ids.join(wide, on="candidate_id", how="inner").join(info, on="context_id")
        criteria = [c for c in wide.columns if c != "candidate_id" and t[c].null_count() < t.height]
        return t.select("system", "context_id", "dataset", "domain", "candidate_id", *criteria).with_columns(
            overall=pl.mean_horizontal(criteria) if criteria else pl.lit(None, pl.Float64)
        )

    agent_ids = replies.filter(pl.col("speaker") != END).select(
        "system", "context_id", candidate_id=pl.col("block_id") + "|" + pl.col("turn").cast(pl.Utf8)
    )
    return table(agent_ids), table(blocks.rename({"block_id": "candidate_id"}))


def score_metrics(scores: pl.DataFrame, family: str) -> dict[str, float]:
    """``{split}.{system}.{family}.{criterion}`` means and ``…_std`` over the judged items."""
    out: dict[str, float] = {}
    columns = [
        c for c in scores.columns if c not in ("system", "context_id", "dataset", "domain", "candidate_id", "split")
    ]
    stats = (
        _splits(scores)
        .group_by("split", "system")
        .agg(
            *[pl.col(c).mean().alias(c) for c in columns],
            *[pl.col(c).std().alias(c + "_std") for c in columns],
            n=pl.len(),
        )
    )
    for row in stats.sort("split", "system").iter_rows(named=True):
        prefix = f"{row['split']}.{row['system']}.{family}"
        out[f"{prefix}.n"] = row["n"]
        for c in columns:
            for key in (c, c + "_std"):
                if row[key] is not None:
                    out[f"{prefix}.{key}"] = round(float(row[key]), 2)
    return out


def versus_best_baseline(scores: pl.DataFrame, family: str, resamples: int, confidence: float, seed: int) -> dict:
    """Per dataset: MASCOT's overall minus the best baseline's (the highest mean overall outside the
    MASCOT family), paired by context (each context's mean over its samples and turns), with a
    bootstrap interval."""
    out: dict = {}
    per_ctx = scores.group_by("dataset", "system", "context_id").agg(pl.col("overall").mean())
    for (dataset,), part in per_ctx.sort("dataset").group_by("dataset", maintain_order=True):
        means = part.group_by("system").agg(pl.col("overall").mean()).drop_nulls()
        baselines = means.filter(~pl.col("system").is_in(MASCOT_FAMILY)).sort(
            "overall", "system", descending=[True, False]
        )
        if "mascot" not in means["system"].to_list() or baselines.is_empty():
            continue
        best = baselines["system"][0]
        wide = part.filter(pl.col("system").is_in(["mascot", best])).pivot(
            on="system", index="context_id", values="overall"
        )
        wide = wide.sort("context_id")  # polars' group_by order varies from run to run; the bootstrap needs a fixed one
        diffs = (wide["mascot"] - wide[best]).drop_nulls().to_list()
        if not diffs:
            continue
        ci = bootstrap_mean(diffs, resamples, confidence, seed)
        key = f"{dataset}.mascot_vs_best.{family}"
        out |= {f"{key}.baseline": best, f"{key}.gain": round(ci.mean, 2), f"{key}.ci_low": round(ci.low, 2),
                f"{key}.ci_high": round(ci.high, 2), f"{key}.contexts": ci.n}  # fmt: skip
    return out


# ------------------------------------------------------------------ automatic metrics


def automatic_metrics(
    replies: pl.DataFrame,
    contexts: pl.DataFrame,
    embedder,
    groups: Mapping[str, Sequence[str]] | None = None,
    check: ReplyCheck | None = None,
) -> dict[str, float]:
    """distinct-1/2 (expectation-adjusted), redundancy between consecutive agents, persona identifiability (with its
    chance level) and length, per split and system; with ``groups`` (dataset → its personas) also who
    spoke: each persona's share of the turns (``speakers.<persona>``, 0 for one who never spoke) and
    the normalised speaker entropy; with ``check`` the share of turns that pass the reply check
    (``format_pass_rate``), beside which every other figure must be read."""
    from mascot.embeddings import consecutive_cosines

    turns = replies.filter(pl.col("speaker") != END).join(
        contexts.select("context_id", "dataset", "domain"), on="context_id"
    )
    if turns.is_empty():
        return {}
    vectors = embedder.encode(turns["text"].to_list(), normalize_embeddings=True, convert_to_numpy=True, batch_size=32)
    turns = turns.with_row_index("row")
    by_id = {r["context_id"]: r for r in contexts.iter_rows(named=True)}
    passed = np.array([v.passed for v in check.turns(turns.iter_rows(named=True), by_id)]) if check else None
    out: dict[str, float] = {}
    by_split = _splits(turns)
    # EAD's vocabulary: the n-grams seen over every system on the split, one scale for all systems
    vocab = {
        (split, n): len(ngram_counts(part["text"].to_list(), n))
        for (split,), part in by_split.group_by("split")
        for n in (1, 2)
    }
    for (split, system), part in by_split.sort("split", "system").group_by("split", "system", maintain_order=True):
        blocks = part.sort("block_id", "turn").group_by("block_id", maintain_order=True).agg("row")
        rows = blocks["row"].to_list()
        sims = [s for s in consecutive_cosines(vectors, rows) if s is not None]
        texts = part["text"].to_list()
        prefix = f"{split}.{system}.auto"
        acc, n = identifiability(vectors[part["row"].to_numpy()], part["speaker"].to_list(), part["block_id"].to_list())
        values = {
            "ead_1": ead_n(texts, 1, vocab[split, 1]), "ead_2": ead_n(texts, 2, vocab[split, 2]),
            "redundancy": float(np.mean(sims)) if sims else None,
            "identifiability": acc, "identifiability_chance": 1 / part["speaker"].n_unique() if n else None,
            **length_stats(texts, [len(r) for r in rows]),
            "format_pass_rate": float(passed[part["row"].to_numpy()].mean()) if passed is not None else None,
            "redrafted_rate": redrafted_rate(part),
        }  # fmt: skip
        group = (groups or {}).get(part["dataset"][0], [])
        spoke = [s for s in part["speaker"].to_list() if s in group]
        if spoke:  # systems whose turns are the group's personas
            values["speaker_entropy"] = speaker_entropy(spoke, len(group))
            out |= {f"{split}.{system}.speakers.{p}": round(spoke.count(p) / len(spoke), 4) for p in group}
        out |= {f"{prefix}.{k}": round(v, 4) for k, v in values.items() if v is not None}
    return out
