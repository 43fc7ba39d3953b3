"""The blinded human-evaluation sheet and the agreement of filled sheets with the judges, against
values worked out by hand."""

from __future__ import annotations

import json

import polars as pl
import pytest

from mascot.cli import main
from mascot.eval.human import SheetError, agreement, export_sheet, instructions
from mascot.judge.rubric import load_rubric
from mascot.schemas import HUMAN_EVAL_KEY, JUDGMENTS, validate

from .conftest import REPO

RUBRIC = load_rubric(REPO / "configs/rubrics/group.yaml")
CRITERIA = [c.name for c in RUBRIC.criteria]
SYSTEMS = ["mascot", "few_shot", "single"]
DISPLAY = {"the_anchor": "The Anchor", "the_beacon": "The Beacon", "reference_listener": "the listener"}


def contexts() -> pl.DataFrame:
    return pl.DataFrame([
        {"context_id": f"ed{k}", "dataset": "empathetic_dialogues", "domain": "negative", "emotion": "sad",
         "situation": f"Situation {k}.", "query": None, "history": [{"speaker": "user", "text": f"Message {k}."}]}
        for k in range(4)
    ])  # fmt: skip


def replies() -> pl.DataFrame:
    rows = []
    for system in SYSTEMS:
        speakers = ["reference_listener"] if system == "single" else ["the_anchor", "the_beacon"]
        for k in range(4):
            for sample in (0, 1):
                block = f"{system}|ed{k}|g|{sample}"
                for turn, who in enumerate(speakers):
                    rows.append({"system": system, "block_id": block, "context_id": f"ed{k}", "sample_idx": sample,
                                 "turn": turn, "speaker": who, "text": f"Words {SYSTEMS.index(system)}.{turn} for {k}/{sample}"})  # fmt: skip
                rows.append({"system": system, "block_id": block, "context_id": f"ed{k}", "sample_idx": sample,
                             "turn": len(speakers), "speaker": "<end>", "text": ""})  # fmt: skip
    return pl.DataFrame(rows)


def test_the_sheet_is_blinded_shuffled_and_keyed(tmp_path):
    sheet, key = export_sheet(replies(), contexts(), DISPLAY, SYSTEMS, RUBRIC, n_contexts=2, seed=0)
    assert sheet.columns == ["item", "conversation", "reply", *CRITERIA, "comment"]
    assert sheet.height == key.height == 2 * 3  # every system's reply to two contexts
    assert sheet["item"].to_list() == [f"H{k}" for k in range(1, 7)]
    validate(key, HUMAN_EVAL_KEY)
    text = sheet.write_csv()
    assert not any(s in text for s in ("mascot", "few_shot", "single", "reference_listener"))  # nothing names a system
    assert "The Anchor: " in text and "Situation " in text and "Emotion: sad" in text
    assert all(sheet[c].null_count() == sheet.height for c in CRITERIA)  # for the annotator to fill
    # the key leads back to each system's first sample; the order mixes systems
    assert set(key["candidate_id"]) == {f"{s}|{c}|g|0" for s in SYSTEMS for c in set(key["context_id"])}
    assert key["system"].to_list() != sorted(key["system"]) and key["context_id"].to_list() != sorted(key["context_id"])
    again, again_key = export_sheet(replies(), contexts(), DISPLAY, SYSTEMS, RUBRIC, n_contexts=2, seed=0)
    assert again.equals(sheet) and again_key.equals(key)  # the same seed, the same sheet
    other = export_sheet(replies(), contexts(), DISPLAY, SYSTEMS, RUBRIC, n_contexts=2, seed=1)[1]
    assert other["candidate_id"].to_list() != key["candidate_id"].to_list()
    guide = instructions(RUBRIC, sheet.height)
    assert all(c.question in guide for c in RUBRIC.criteria) and "6 items" in guide


def judgments(key: pl.DataFrame) -> pl.DataFrame:
    """Judge scores: mascot 5, few_shot 3, single 1 minus one on originality for the first context."""
    base = {"mascot": 5.0, "few_shot": 3.0, "single": 2.0}
    rows = []
    for r in key.iter_rows(named=True):
        for c in CRITERIA:
            score = base[r["system"]] - (1 if c == "originality" and r["context_id"] == key["context_id"].min() else 0)
            rows.append({"candidate_id": r["candidate_id"], "judge": "j", "model": "m", "rubric": "group",
                         "rubric_version": "1.0", "criterion": c, "score": score, "status": "ok", "method": "logprobs",
                         "attempts": 1, "raw": ""})  # fmt: skip
    return validate(pl.DataFrame(rows), JUDGMENTS)


def fill(sheet: pl.DataFrame, key: pl.DataFrame, judged: pl.DataFrame, path, shift=None) -> None:
    scores = judged.join(key.select("item", "candidate_id"), on="candidate_id")
    filled = (
        sheet.drop(CRITERIA)
        .join(scores.pivot(on="criterion", index="item", values="score"), on="item")
        .select(sheet.columns)
    )
    if shift:
        filled = filled.with_columns(*[pl.when(pl.col("item") == shift).then(pl.col(c) - 1).otherwise(pl.col(c))
                                       for c in CRITERIA])  # fmt: skip
    filled.with_columns(pl.col(c).cast(pl.Int64) for c in CRITERIA).write_csv(path)


def test_agreement_of_filled_sheets_with_the_judges(tmp_path):
    sheet, key = export_sheet(replies(), contexts(), DISPLAY, SYSTEMS, RUBRIC, n_contexts=2, seed=0)
    judged = judgments(key)
    fill(sheet, key, judged, tmp_path / "ann_a.csv")
    same = agreement([tmp_path / "ann_a.csv"], key, judged, RUBRIC)
    # an annotator who agrees with the judge on every score
    assert same["annotators"] == 1 and same["items_rated"] == 6 and same["scores"] == 6 * len(CRITERIA)
    assert same["overall.spearman"] == 1.0 and same["overall.kappa_quadratic"] == 1.0
    assert same["fidelity.spearman"] == 1.0 and same["originality.kappa_quadratic"] == 1.0
    assert same["human.mascot.overall"] == same["judge.mascot.overall"]
    assert same["system_ranking.kendall_tau"] == 1.0
    assert "fidelity.alpha_ordinal" not in same  # one annotator: nothing to agree on among humans

    # a second annotator scores the judge's best item one point lower on every criterion
    best = key.filter(pl.col("system") == "mascot")["item"][0]
    fill(sheet, key, judged, tmp_path / "ann_b.csv", shift=best)
    two = agreement([tmp_path / "ann_a.csv", tmp_path / "ann_b.csv"], key, judged, RUBRIC)
    assert two["annotators"] == 2
    assert 0 < two["fidelity.alpha_ordinal"] < 1
    # the two annotators' mean for that item is 4.5 (rounded to 4 for κ): agreement drops, stays high
    assert 0.8 < two["fidelity.kappa_quadratic"] < 1.0
    # half a point lower on one of mascot's two items: 0.5 / 4 × 100 / 2 lower on 0–100
    assert two["human.mascot.overall"] == pytest.approx(two["judge.mascot.overall"] - 6.25, abs=0.01)


def test_every_problem_in_a_filled_sheet_is_named_by_file_row_and_column(tmp_path):
    sheet, key = export_sheet(replies(), contexts(), DISPLAY, SYSTEMS, RUBRIC, n_contexts=2, seed=0)
    judged = judgments(key)
    good = tmp_path / "good.csv"
    fill(sheet, key, judged, good)
    table = pl.read_csv(good, infer_schema=False)

    def broken(name, df=None, raw=None):
        path = tmp_path / name
        if raw is not None:
            path.write_bytes(raw)
        else:
            df.write_csv(path)
        with pytest.raises(SheetError) as err:
            agreement([path], key, judged, RUBRIC)
        return str(err.value)

    msg = broken("seven.csv", table.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("7"))
                                                   .otherwise(pl.col("engagement")).alias("engagement")))  # fmt: skip
    assert "seven.csv: row 4, column 'engagement': '7' is not a whole number from 1 to 5" in msg
    msg = broken("typo.csv", table.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("H99"))
                                                  .otherwise(pl.col("item")).alias("item")))  # fmt: skip
    assert "typo.csv: row 2, column 'item': unknown item 'H99'" in msg
    assert "again (first at row 2)" in broken("twice.csv", pl.concat([table, table.head(1)]))
    assert "missing column(s) ['originality']" in broken("cols.csv", table.drop("originality"))
    assert "not a readable UTF-8 CSV" in broken("latin1.csv", raw="item,fidelity\nH1,caf\xe9\n".encode("latin-1"))
    assert "no scores filled in" in broken("blank.csv", sheet)
    assert "empty.csv" in broken("empty.csv", raw=b"")
    data = good.read_bytes()  # cut inside the last row: its last cells would read as "cannot judge"
    cut = broken("cut.csv", raw=data[: data.rindex(b",") - 1])
    assert f"cut.csv: row {table.height + 1} has 8 of the header's 9 fields and no line end" in cut
    # a spreadsheet saves a row whose trailing cells are empty without their commas: the same row, whole
    last = data[data.rindex(b"\nH") + 1 :]
    short = data[: -len(last)] + last[: last.rindex(b",", 0, last.rindex(b",") - 1)] + b"\r\n"
    (tmp_path / "short.csv").write_bytes(short)
    assert agreement([tmp_path / "short.csv"], key, judged, RUBRIC)["scores"] == 6 * len(CRITERIA) - 1


def test_the_cli_writes_the_agreement_metrics(tmp_path, monkeypatch, capsys):
    from mascot.schemas import write_table

    sheet, key = export_sheet(replies(), contexts(), DISPLAY, SYSTEMS, RUBRIC, n_contexts=2, seed=0)
    judged = judgments(key)
    write_table(key, tmp_path / "key.parquet", HUMAN_EVAL_KEY)
    write_table(judged, tmp_path / "judgments.parquet", JUDGMENTS)
    fill(sheet, key, judged, tmp_path / "ann.csv")
    monkeypatch.chdir(REPO)  # params.yaml names the group rubric relative to the repository
    out = tmp_path / "human.json"
    args = ["human-eval", str(tmp_path / "ann.csv"), "--key", str(tmp_path / "key.parquet"), "--judgments",
            str(tmp_path / "judgments.parquet"), "-o", str(out)]  # fmt: skip
    assert main(args) == 0
    assert json.loads(out.read_text())["overall.spearman"] == 1.0
    assert main([*args[:1], str(tmp_path / "missing.csv"), *args[2:]]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err
