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

    args = parser.parse_args(argv)
    try:
        if args.command == "params":
            text = dump_params(profile_config(args.profile))
            if args.output:
                Path(args.output).write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
        elif args.command == "check":
            load_config(args.params)
            print(f"{args.params}: ok")
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
        elif args.command == "sample":
            from mascot.data.sample import write_sample

            for path in write_sample(Path(args.dir)):
                print(path)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"mascot: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
