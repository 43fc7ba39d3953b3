"""`mascot …` commands for people: write params for a profile, validate them, list personas, write the sample."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mascot.config import ConfigError, dump_params, load_config, profile_config, profile_names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mascot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("params", help="print a complete, commented params.yaml for a profile")
    p.add_argument("--profile", default="default", help=f"one of {profile_names()}")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")

    c = sub.add_parser("check", help="validate a params file without running anything")
    c.add_argument("params", nargs="?", default="params.yaml")

    ls = sub.add_parser(
        "lock-status", help="check that dvc.lock, metrics and plots are what the committed code and params produce"
    )
    ls.add_argument("--repo", default=".", help="the repository to check")

    pe = sub.add_parser("personas", help="list the persona cards and who talks on which dataset")
    pe.add_argument("--params", default="params.yaml")

    s = sub.add_parser("sample", help="the bundled offline sample")
    s.add_argument("action", choices=["write"])
    s.add_argument("dir", nargs="?", default="data/sample")

    sc = sub.add_parser("score", help="score replies with a trained persona reward model (one JSON line per reply)")
    sc.add_argument("--model", default="models/persona_rm", help="folder written by the persona_rm stage")
    sc.add_argument("--persona", required=True, help="persona card name, e.g. the_anchor")
    sc.add_argument("--situation", required=True, help="what the person is going through (the meeting, for qmsum)")
    sc.add_argument("--emotion", help="the person's emotion; required for empathetic_dialogues contexts")
    sc.add_argument("--dataset", choices=["empathetic_dialogues", "qmsum"], help="default: the persona's training data")
    sc.add_argument("--domain", help="default: the emotion's valence (empathetic_dialogues)")
    sc.add_argument("--query", help="qmsum: the question on the table")
    sc.add_argument("--history-file", help='JSON list of {"speaker": ..., "text": ...} turns, oldest first')
    sc.add_argument("--response", action="append", required=True, help="a reply to score; repeat for several")
    sc.add_argument("--personas-dir", default="configs/personas", help="folder of persona cards")
    sc.add_argument("--prompts-dir", help="default: the prompts dir recorded in the model's mascot_rm.json")
    sc.add_argument("--device", default="cpu", help="cpu, cuda, auto, ...")
    sc.add_argument("--batch-size", type=int, default=16, help="replies scored together")

    h = sub.add_parser(
        "human-eval", help="agreement of filled human-evaluation sheets with the judges (sheets from the report stage)"
    )
    h.add_argument("sheets", nargs="+", help="filled copies of reports/human_eval/sheet.csv, one CSV per annotator")
    h.add_argument("--key", default="data/human_eval_key.parquet", help="the sheet's key, written by the report stage")
    h.add_argument("--judgments", default="data/eval_judgments.parquet", help="the evaluate stage's judgments")
    h.add_argument("--params", default="params.yaml", help="for group_label.rubric, the rubric of the sheet")
    h.add_argument("-o", "--output", default="metrics/human_eval.json", help="where the agreement metrics go")

    ex = sub.add_parser(
        "export-serving",
        help="write π_SFT merged and print the vLLM command that serves the trained group's adapters (serving.*)",
    )
    ex.add_argument("--repo", default=".", help="the repository the group was trained in")
    ex.add_argument("--rev", help="a git revision or DVC experiment name; default: the workspace's outputs")
    ex.add_argument("-o", "--output", default="serving", help="folder for the merged π_SFT")

    for name, text in (
        ("chat", "talk with the trained group in the terminal (run after `dvc repro`)"),
        ("serve", "serve the trained group over OpenAI's chat completions API, with a web page"),
    ):
        t = sub.add_parser(name, help=text)
        t.add_argument("--repo", default=".", help="the repository the group was trained in")
        t.add_argument("--rev", help="a git revision or DVC experiment name; default: the workspace's outputs")
        t.add_argument("--device", help="torch device (default: params' model.device)")
        if name == "chat":
            t.add_argument(
                "--model", default="mascot-group", help="mascot-group, mascot-group-<dataset> or one persona's name"
            )
            t.add_argument("--emotion", help="how you feel, one of EmpatheticDialogues' 32 labels (optional)")
            t.add_argument("--situation", help="what you are going through (default: your first message)")
            t.add_argument("--query", help="the question on the table (meeting groups)")
            t.add_argument("--seed", type=int, help="sampling seed (default: params' conversation.seed)")
            t.add_argument(
                "--temperature", type=float, help="sampling temperature (default: params' conversation.temperature)"
            )
            t.add_argument(
                "--show-directives", action="store_true", help="show the director's directive before each turn"
            )
        else:
            from dataclasses import fields

            from mascot.app.server import ServeSettings

            for f in fields(ServeSettings):
                t.add_argument(
                    f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default, help=f.metadata["help"]
                )

    args = parser.parse_args(argv)
    try:
        if args.command == "params":
            text = dump_params(profile_config(args.profile))
            if args.output:
                Path(args.output).write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
        elif args.command == "check":
            from mascot.prompts import PIPELINE_TEMPLATES, check_templates

            check_templates(load_config(args.params).prompts_dir, PIPELINE_TEMPLATES)
            print(f"{args.params}: ok")
        elif args.command == "lock-status":
            from mascot.lock_status import report

            ok, text = report(args.repo)
            print(text, file=sys.stdout if ok else sys.stderr)
            return 0 if ok else 1
        elif args.command == "personas":
            cfg = load_config(args.params)
            from mascot.personas import load_cards

            cards = load_cards(cfg.personas.dir)
            used = {n: ds for ds in cfg.ingest.datasets for n in cfg.personas.for_dataset(ds)}
            for name in cards:
                card = cards.get(name)
                print(f"{name:18} {card.display_name:18} {card.role:22} {used.get(name, '(unused)')}")
        elif args.command == "score":
            from mascot.reward_model import score_cli

            return score_cli(args)
        elif args.command in ("chat", "serve"):
            return talk(args)
        elif args.command == "export-serving":
            import shlex

            from mascot.app.export import export_serving

            print(shlex.join(export_serving(args.repo, args.output, args.rev)))
        elif args.command == "human-eval":
            return human_eval(args)
        elif args.command == "sample":
            from mascot.data.sample import write_sample

            for path in write_sample(Path(args.dir)):
                print(path)
    except (ConfigError, ValueError, FileNotFoundError, KeyError) as exc:
        print(f"mascot: error: {exc}", file=sys.stderr)
        return 2
    return 0


def human_eval(args: argparse.Namespace) -> int:
    import json

    from mascot.eval.human import agreement
    from mascot.judge.rubric import load_rubric
    from mascot.schemas import HUMAN_EVAL_KEY, JUDGMENTS, read_table

    rubric = load_rubric(load_config(args.params).group_label.rubric)
    key, judgments = read_table(args.key, HUMAN_EVAL_KEY), read_table(args.judgments, JUDGMENTS)
    result = agreement([Path(s) for s in args.sheets], key, judgments, rubric)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for name, value in sorted(result.items()):
        print(f"{name:40} {value}")
    print(f"→ {out}")
    return 0


def talk(args: argparse.Namespace) -> int:
    import warnings

    from transformers.utils import logging as hf_logging

    from mascot.app.session import TrainedGroup

    # a conversation, not a training log: no loading bars or library deprecation notices between turns
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)

    if args.command == "serve":
        from mascot.app.server import ServeSettings, check_binding, serve

        settings = ServeSettings(args.host, args.port, args.max_pending, args.api_key_env, args.retry_after_s)
        import os

        check_binding(settings, os.environ.get(settings.api_key_env))  # before minutes of loading
        serve(TrainedGroup.load(args.repo, args.rev, args.device), settings)
        return 0
    from mascot.app.terminal import Terminal

    group = TrainedGroup.load(args.repo, args.rev, args.device)
    session = group.session(
        args.model, emotion=args.emotion, situation=args.situation, query=args.query, seed=args.seed,
        temperature=args.temperature,
    )  # fmt: skip
    return Terminal(session, show_directives=args.show_directives).run()


if __name__ == "__main__":
    sys.exit(main())
