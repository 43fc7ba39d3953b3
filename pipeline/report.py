"""Stage report: the evaluation as tables shaped like the paper's and sample conversations side by
side, and the MBTI heatmap, in reports/eval.md and the self-contained reports/eval.html; and the
blinded human-evaluation sheet (reports/human_eval/) with its key."""

from pathlib import Path

from mascot.eval.human import export_sheet, instructions
from mascot.eval.report import build_tables, cases, html_page, markdown, mbti_table, training_table
from mascot.eval.systems import reference_cards
from mascot.format_reward import ReplyCheck
from mascot.judge.rubric import load_rubric
from mascot.personas import load_cards
from mascot.schemas import CONTEXTS, EVAL_REPLIES, HUMAN_EVAL_KEY, MBTI_HEATMAP, read_table, write_table
from mascot.stage import log, read_metrics, run_stage


def main(args, cfg):
    metrics = read_metrics(args.metrics)
    replies = read_table(args.replies, EVAL_REPLIES)
    contexts = read_table(args.contexts, CONTEXTS)
    cards = load_cards(cfg.personas.dir)
    display = {n: cards.get(n).display_name for n in cards} | {
        c.name: c.display_name for c in reference_cards().values()
    }
    systems = cfg.evaluate.systems
    intro = (
        f"{len(systems)} systems on {metrics.get('contexts', '?')} held-out '{cfg.evaluate.split}' contexts "
        f"({metrics.get('replies', '?')} replies), judged by {', '.join(j.name for j in cfg.evaluate.judges)}. "
        "Scores are judge scores mapped from 1–5 to 0–100, mean ± std over agent turns (agent-specific) or replies "
        "(collective); the best value of each column is marked. Compare commits with `dvc metrics diff`."
    )
    tables = build_tables(metrics, systems, cfg.ingest.datasets)
    heatmap = mbti_table(read_table(args.mbti_heatmap, MBTI_HEATMAP), read_metrics(args.mbti_metrics), cfg.mbti.system)
    tables += [heatmap] if heatmap else []
    training = training_table(read_metrics(args.agents_metrics), read_metrics(args.director_metrics))
    tables = ([training] if training else []) + tables
    for card in reference_cards().values():  # the `single` system's speakers
        cards.add(card.name, card)
    check = ReplyCheck(cfg.format_reward, cards, cfg.groups())
    case_list = cases(replies, contexts, display, systems, cfg.report.cases, check)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.md").write_text(markdown("MASCOT evaluation", intro, tables, case_list) + "\n", encoding="utf-8")
    (out / "eval.html").write_text(html_page("MASCOT evaluation", intro, tables, case_list), encoding="utf-8")
    log.info("%d tables and %d sample conversations → %s", len(tables), len(case_list), out)

    rubric = load_rubric(cfg.group_label.rubric)
    sheet, key = export_sheet(replies, contexts, display, systems, rubric, cfg.report.human_eval_contexts,
                              cfg.report.human_eval_seed)  # fmt: skip
    folder = out / "human_eval"
    folder.mkdir(exist_ok=True)
    sheet.write_csv(folder / "sheet.csv")
    (folder / "instructions.md").write_text(instructions(rubric, sheet.height), encoding="utf-8")
    write_table(key, args.human_key, HUMAN_EVAL_KEY)
    log.info("human-evaluation sheet: %d blinded items → %s (key: %s)", sheet.height, folder, args.human_key)


if __name__ == "__main__":
    run_stage(
        "report", main, "metrics", "replies", "contexts", "mbti_metrics", "mbti_heatmap", "agents_metrics",
        "director_metrics", "out", "human_key",
    )  # fmt: skip
