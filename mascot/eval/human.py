"""Human evaluation: a blinded annotation sheet of sampled replies, and the agreement of filled
sheets with the judges.

The sheet (``reports/human_eval/sheet.csv``, with ``instructions.md``) shows each sampled context
and one system's whole reply under an opaque item id, in a shuffled order, with one empty 1–5
column per criterion of the group rubric: the collective scores the judges gave the same replies.
The key (``data/human_eval_key.parquet``) maps each item back to its system and judged reply; it
stays with the researcher. Annotators fill copies of the sheet (any spreadsheet program; save as
CSV, one file per annotator) and :func:`agreement` compares them with the judges:

* per criterion and for the mean over criteria: Spearman's ρ between the annotators' mean and the
  judges' mean score of each item, and Cohen's κ with quadratic weights between both rounded to
  1–5;
* between annotators (two or more sheets): Krippendorff's α at the ordinal level;
* per system: the humans' mean overall on 0–100, and Kendall's τ between the systems' order by the
  humans and by the judges (does the judge rank the systems as people do?).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from mascot.chat.directive import END
from mascot.eval.scoring import to_100
from mascot.judge.rubric import Rubric

ITEM, CONVERSATION, REPLY, COMMENT = "item", "conversation", "reply", "comment"


class SheetError(ValueError):
    """A filled sheet cannot be read; the message names the file, the row and the column."""


def context_lines(ctx: Mapping) -> list[str]:
    """What a reader needs of a context: the situation, the emotion, the last turns, the question."""
    return [f"Situation: {ctx['situation']}"] + (
        [f"Emotion: {ctx['emotion']}"] if ctx.get("emotion") else []
    ) + [f"{t['speaker']}: {t['text']}" for t in (ctx["history"] or [])[-4:]] + (
        [f"Question: {ctx['query']}"] if ctx.get("query") else []
    )  # fmt: skip


def export_sheet(
    replies: pl.DataFrame, contexts: pl.DataFrame, display: Mapping[str, str], systems: Sequence[str], rubric: Rubric,
    n_contexts: int, seed: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
    """(sheet, key) for every system's first reply to ``n_contexts`` evaluated contexts (drawn with
    ``seed``), the items shuffled and numbered so that nothing on the sheet names a system."""
    turns = replies.filter(pl.col("speaker") != END)
    first = turns.filter(pl.col("sample_idx") == pl.col("sample_idx").min().over("system", "context_id"))
    evaluated = sorted(set(first["context_id"]))
    rng = random.Random(seed)
    picked = set(rng.sample(evaluated, min(n_contexts, len(evaluated))))
    by_id = {c["context_id"]: c for c in contexts.iter_rows(named=True) if c["context_id"] in picked}
    items = []
    for (system, context_id, block_id), part in (
        first.filter(pl.col("context_id").is_in(picked))
        .sort("turn")
        .group_by("system", "context_id", "block_id", maintain_order=True)
    ):
        if system not in systems:
            continue
        reply = "\n".join(f"{display.get(s, s)}: {t}" for s, t in zip(part["speaker"], part["text"]))
        ctx = by_id[context_id]
        items.append({"system": system, "context_id": context_id, "candidate_id": block_id, "dataset": ctx["dataset"],
                      CONVERSATION: "\n".join(context_lines(ctx)), REPLY: reply})  # fmt: skip
    items.sort(key=lambda r: (r["context_id"], r["system"]))
    rng.shuffle(items)
    width = len(str(len(items)))
    for k, row in enumerate(items, 1):
        row[ITEM] = f"H{k:0{width}d}"
    table = pl.DataFrame(items, schema_overrides={ITEM: pl.Utf8}) if items else pl.DataFrame(
        schema={c: pl.Utf8 for c in ("system", "context_id", "candidate_id", "dataset", CONVERSATION, REPLY, ITEM)}
    )  # fmt: skip
    sheet = table.select(ITEM, CONVERSATION, REPLY).with_columns(
        *[pl.lit(None, pl.Utf8).alias(c.name) for c in rubric.criteria], pl.lit(None, pl.Utf8).alias(COMMENT)
    )
    key = table.select(ITEM, "system", "context_id", "candidate_id", "dataset").with_columns(
        rubric=pl.lit(rubric.name), rubric_version=pl.lit(rubric.version)
    )
    return sheet, key


def instructions(rubric: Rubric, items: int) -> str:
    """The annotators' instructions: the rubric's questions and anchors, and how to fill the sheet."""
    lines = [
        "# Annotation instructions", "",
        f"`sheet.csv` holds {items} items. Each shows a conversation and one reply from a group of companions "
        "(each line of the reply is one companion's turn). Judge the reply as a whole, in the light of the "
        "conversation before it.", "",
        "Open the sheet in a spreadsheet program, fill each score column with a whole number from 1 (worst) to 5 "
        "(best) — leave a cell empty if you cannot judge it — and save it as CSV under a file name of your own "
        "(e.g. `annotator_a.csv`). Do not change the `item` column. Use `comment` for anything worth knowing.", "",
        f"{rubric.description.strip()}", "",
    ]  # fmt: skip
    for c in rubric.criteria:
        lines += [f"## `{c.name}` — {c.title}", "", c.question, ""]
        lines += [f"- **{score}**: {text}" for score, text in c.anchors.items()] + [""]
    return "\n".join(lines)


# ------------------------------------------------------------------ filled sheets


def read_sheet(path: Path, key: pl.DataFrame, criteria: Sequence[str]) -> pl.DataFrame:
    """One filled sheet → long table (annotator, item, criterion, score); every problem named by
    file, row (as a spreadsheet numbers it: the header is row 1), column and value."""
    try:
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except FileNotFoundError:
        raise SheetError(f"{path}: no such file") from None
    except Exception as exc:  # polars raises ComputeError on bad encodings and malformed CSV
        raise SheetError(f"{path}: not a readable UTF-8 CSV sheet ({str(exc).splitlines()[0]})") from None
    missing = [c for c in (ITEM, *criteria) if c not in raw.columns]
    if missing:
        raise SheetError(f"{path}: missing column(s) {missing}; the sheet needs '{ITEM}' and one column per criterion "
                         f"{list(criteria)} (it has {raw.columns})")  # fmt: skip
    # polars reads missing fields as empty cells, which here mean "cannot judge", so a sheet cut short would
    # lose its last scores silently. Only the last row of a file without a final newline can be cut:
    # spreadsheets also save rows whose trailing cells are empty without their commas.
    text = path.read_text(encoding="utf-8")
    records = list(csv.reader(text.splitlines(keepends=True)))
    if text and not text.endswith(("\n", "\r")) and len(records) > 1 and len(records[-1]) < len(raw.columns):
        raise SheetError(f"{path}: row {len(records)} has {len(records[-1])} of the header's {len(raw.columns)} fields "
                         "and no line end: the file was cut short; save the whole sheet again")  # fmt: skip
    known = set(key[ITEM])
    seen: dict[str, int] = {}
    rows = []
    for i, record in enumerate(raw.iter_rows(named=True), start=2):
        item = (record[ITEM] or "").strip()
        if item not in known:
            raise SheetError(f"{path}: row {i}, column '{ITEM}': unknown item {record[ITEM]!r} (not in the key)")
        if item in seen:
            raise SheetError(f"{path}: row {i}, column '{ITEM}': item {item} again (first at row {seen[item]})")
        seen[item] = i
        for c in criteria:
            value = (record[c] or "").strip()
            if not value:
                continue
            if value not in {"1", "2", "3", "4", "5", "1.0", "2.0", "3.0", "4.0", "5.0"}:
                raise SheetError(f"{path}: row {i}, column '{c}': {record[c]!r} is not a whole number from 1 to 5")
            rows.append({"annotator": path.stem, ITEM: item, "criterion": c, "score": float(value)})
    if not rows:
        raise SheetError(f"{path}: no scores filled in")
    return pl.DataFrame(rows)


def judge_scores(judgments: pl.DataFrame, key: pl.DataFrame) -> pl.DataFrame:
    """(item, criterion, judge) — the judges' mean score of each sheet item."""
    ok = judgments.filter((pl.col("status") == "ok") & pl.col("candidate_id").is_in(key["candidate_id"].to_list()))
    ok = ok.join(key.select(ITEM, "candidate_id", "rubric"), on=["candidate_id", "rubric"])
    return ok.group_by(ITEM, "criterion").agg(judge=pl.col("score").mean())


def agreement(sheets: Sequence[Path], key: pl.DataFrame, judgments: pl.DataFrame, rubric: Rubric) -> dict:
    """Human–judge and human–human agreement over filled sheets (see the module's docstring)."""
    import krippendorff
    from scipy.stats import kendalltau, spearmanr
    from sklearn.metrics import cohen_kappa_score

    criteria = [c.name for c in rubric.criteria]
    if key["rubric"].n_unique() != 1 or key["rubric"][0] != rubric.name:
        raise SheetError(f"the key was exported for rubric {key['rubric'].unique().to_list()}, not '{rubric.name}'")
    if not sheets:
        raise SheetError("no filled sheets given")
    human = pl.concat([read_sheet(Path(p), key, criteria) for p in sheets])
    if human["annotator"].n_unique() < len(sheets):
        raise SheetError("two sheets have the same file name; name each annotator's file differently")
    mean_human = human.group_by(ITEM, "criterion").agg(human=pl.col("score").mean())
    both = mean_human.join(judge_scores(judgments, key), on=[ITEM, "criterion"], how="inner")
    overall = (
        both.group_by(ITEM)
        .agg(pl.col("human").mean(), pl.col("judge").mean(), pl.len().alias("k"))
        .filter(pl.col("k") == len(criteria))
    )  # an item's overall only when every criterion was rated and judged
    out: dict = {"annotators": human["annotator"].n_unique(), "items_rated": human[ITEM].n_unique(),
                 "scores": human.height}  # fmt: skip

    def compare(name: str, part: pl.DataFrame) -> None:
        out[f"{name}.n"] = part.height
        if part.height < 3:
            return
        h, j = part["human"].to_numpy(), part["judge"].to_numpy()
        rho = spearmanr(h, j).statistic
        if rho == rho:  # NaN when either side is constant
            out[f"{name}.spearman"] = round(float(rho), 4)
        hr, jr = np.clip(np.rint(h), 1, 5).astype(int), np.clip(np.rint(j), 1, 5).astype(int)
        if len(set(hr) | set(jr)) > 1:
            out[f"{name}.kappa_quadratic"] = round(float(cohen_kappa_score(hr, jr, weights="quadratic")), 4)

    for c in criteria:
        compare(c, both.filter(pl.col("criterion") == c))
    compare("overall", overall)
    if out["annotators"] >= 2:
        annotators = sorted(set(human["annotator"]))
        for c in criteria:
            wide = human.filter(pl.col("criterion") == c).pivot(on="annotator", index=ITEM, values="score")
            data = np.array([wide[a].to_list() if a in wide.columns else [None] * wide.height for a in annotators],
                            dtype=float)  # fmt: skip
            if (np.sum(~np.isnan(data), axis=0) >= 2).any() and len(set(data[~np.isnan(data)])) > 1:
                out[f"{c}.alpha_ordinal"] = round(float(krippendorff.alpha(data, level_of_measurement="ordinal")), 4)
    per_system = overall.join(key.select(ITEM, "system"), on=ITEM).group_by("system").agg(
        to_100(pl.col("human")).mean(), to_100(pl.col("judge")).mean()
    ).sort("system")  # fmt: skip
    for row in per_system.iter_rows(named=True):
        out[f"human.{row['system']}.overall"] = round(row["human"], 2)
        out[f"judge.{row['system']}.overall"] = round(row["judge"], 2)
    if per_system.height >= 3:
        tau = kendalltau(per_system["human"].to_numpy(), per_system["judge"].to_numpy()).statistic
        if tau == tau:
            out["system_ranking.kendall_tau"] = round(float(tau), 4)
    return out
