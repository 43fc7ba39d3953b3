"""How the companions' prompt framing changes what the base model writes (issue 33).

Real contexts from ../shared/data (EmpatheticDialogues valid, QMSum val), the base model with no
adapter (``--trained``: π_SFT with the trained agents' adapters of models/, as the group speaks),
each group of cards answering in the group's order for ``--turns`` turns (so later turns see other
companions' words), sampled as the pipeline samples (conversation.temperature, top_p,
agent_max_new_tokens, agent_min_new_tokens, agent_repetition_penalty; ``--set`` changes any). Per
framing and dataset it prints the reply check's pass rate (the format rules of
mascot/format_reward.py on each turn as the chat keeps it), the failure mix, median words per turn,
prompt tokens and seconds per turn.

    python benchmarks/framing.py [--contexts 6] [--turns 3] [--framings transcript,chat,chat_assistant,...]
    python benchmarks/framing.py --framings chat --trained --set conversation.agent_min_new_tokens=0

Framings:
  transcript  the old one: card in the system message, one user message holding the conversation as
              "Name: text" lines and "Write X's next message. The director asks X: <instruction>"
  chat            the pipeline's: card, situation and instruction in the system message, the conversation
                  as chat turns with no names: the companion's own earlier turns assistant turns, the
                  person's, the meeting's and the other companions' user turns (AutoGen's way)
  chat_assistant  as chat, the other companions' turns assistant turns (the group as one voice)
  chat_names      as chat, a meeting participant's or another companion's turn led by "Name: "
Needs models/base (`dvc repro base_model`); ``--trained`` models/sft and models/agents too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import jinja2
import polars as pl

from mascot.agents import Agents
from mascot.chat.directive import FALLBACK_INSTRUCTION, Directive
from mascot.chat.engine import GroupEngine, engine_settings, group_names
from mascot.chat.state import ConversationState
from mascot.config import load_config, parse_overrides
from mascot.data.empathetic import load_empathetic_dialogues
from mascot.data.issues import IngestReport
from mascot.data.qmsum import load_qmsum
from mascot.data.sampling import sample_contexts
from mascot.format_reward import RULES, ReplyCheck
from mascot.llm import get_backend
from mascot.personas import load_cards
from mascot.prompts import Prompts, chat_turns, context_vars

DATA = Path("../shared/data")
# The framing the pipeline used before issue 33 (persona_system.jinja and group_turn_user.jinja of
# commit 0b179e4), kept here to measure against.
OLD_SYSTEM = jinja2.Template(
    """You are {{ persona.display_name }}, the {{ persona.role }}, one of several companions in a group chat\
{% if dataset == "qmsum" %} taking part in a work meeting{% else %} supporting one person{% endif %}.
{{ persona.description }}
Rules:
{% for rule in persona.rules %}- {{ rule }}
{% endfor %}Style: {{ persona.style }}
{% if persona.examples and with_examples %}Lines in your voice:
{% for line in persona.examples %}- {{ line }}
{% endfor %}{% endif %}Reply with your own next message only: 1-3 sentences, no name tag, never speak for anyone else."""
)
OLD_USER = jinja2.Template(
    """{% if dataset == "qmsum" %}{{ situation }}
{% else %}{% if emotion %}The person feels {{ emotion }}. {% endif %}Their situation: {{ situation }}
{% endif %}{% if history %}
Conversation so far:
{% for turn in history %}{{ turn.speaker }}: {{ turn.text }}
{% endfor %}{% endif %}{% if query %}
Question on the table: {{ query }}
{% endif %}
Write {{ speaker }}'s next message.
The director asks {{ speaker }}: {{ instruction }}"""
)


class Framed(Prompts):
    """The pipeline's prompts with one framing swapped in for a companion's turn."""

    def __init__(self, directory, framing: str):
        super().__init__(directory)
        self.framing = framing
        self.others = "assistant" if framing == "chat_assistant" else "user"

    def persona_messages(self, persona, context, history=None, instruction=None, template="persona_system.jinja", **v):
        if self.framing == "transcript":
            variables = context_vars(context, history) | {"with_examples": True} | v
            system = OLD_SYSTEM.render(persona=persona, **variables)
            user = OLD_USER.render(speaker=persona.display_name, instruction=instruction, **variables)
            return [{"role": "system", "content": system.strip()}, {"role": "user", "content": user.strip()}]
        messages = super().persona_messages(persona, context, history, instruction, template, **v)
        if self.framing != "chat_names":
            return messages
        turns = chat_turns(context_vars(context, history)["history"], persona.display_name, context, "user", names=True)
        return [messages[0], *turns]


def contexts(n: int, seed: int = 13) -> pl.DataFrame:
    report = IngestReport()
    ed = load_empathetic_dialogues(DATA / "empathetic_dialogues/valid.csv", "valid", report, max_turn_chars=400)
    qm = load_qmsum(DATA / "qmsum", "valid", report, window_turns=4, max_turn_chars=400)
    # n per dataset, spread over its three domains
    return pl.concat([sample_contexts(frame, -(-n // 3), seed).head(n) for frame in (ed, qm)])


def run(
    framing: str, ctx: pl.DataFrame, cfg, cards, backend, turns: int, adapters=None, instruction=FALLBACK_INSTRUCTION
) -> list[dict]:
    prompts = Framed(cfg.prompts_dir, framing)
    settings = engine_settings(cfg.conversation)
    engine = GroupEngine(backend, cards, prompts, settings, agent_adapters=adapters, order="fixed")
    check = ReplyCheck(cfg.format_reward, cards, cfg.groups())
    rows = []
    for (dataset,), part in ctx.group_by("dataset", maintain_order=True):
        group = cfg.groups()[dataset]
        states = [ConversationState.start(c, group, group_names(cards, group)) for c in part.iter_rows(named=True)]
        tokens, seconds = 0, 0.0
        for turn in range(turns):
            directive = Directive(group[turn % len(group)], instruction)
            tokens += sum(backend.count_tokens(engine.agent_messages(s, directive.speaker, directive)) for s in states)
            start = time.perf_counter()
            engine.speak(states, [directive] * len(states), list(range(len(states))), turn)
            seconds += time.perf_counter() - start
        for state in states:
            history = state.context["history"] or []
            for t in state.agent_turns:
                v = check.verdict(t.text, dataset, t.speaker, history, context=state.context)
                rows.append({"framing": framing, "dataset": dataset, "text": t.text, "verdict": v,
                             "words": len(t.text.split())})  # fmt: skip
        n = len(states) * turns
        for r in rows[-n:]:
            r["prompt_tokens"], r["seconds"] = tokens / n, seconds / n
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contexts", type=int, default=6, help="contexts per dataset")
    parser.add_argument("--turns", type=int, default=3, help="companion turns per context, in the group's order")
    parser.add_argument("--framings", default="transcript,chat,chat_assistant,chat_names")
    parser.add_argument("--datasets", default="", help="only these datasets (comma-separated)")
    parser.add_argument("--show", type=int, default=3, help="replies printed per framing and dataset")
    parser.add_argument(
        "--set", action="append", default=[], help="a params override, e.g. conversation.agent_repetition_penalty=1.2"
    )
    parser.add_argument("--trained", action="store_true", help="the trained agents (models/sft, models/agents)")
    parser.add_argument(
        "--instruction",
        default=FALLBACK_INSTRUCTION,
        help="the director's instruction every turn gets (default: the fallback's)",
    )
    args = parser.parse_args()
    needs = ["models/base", *(["models/sft", "models/agents"] if args.trained else [])]
    if not all(Path(p).exists() for p in needs) or not DATA.exists():
        sys.exit(f"needs {', '.join(needs)} (`dvc repro` or `dvc pull`) and ../shared/data")
    cfg = load_config("params.yaml", parse_overrides(args.set))
    cards = load_cards(cfg.personas.dir)
    adapters = None
    if args.trained:
        agents = Agents.load("models/agents")
        backend = get_backend("transformers")(
            "models/base", dtype="float32", device="cpu", batch_size=8, adapters=agents.paths(), merge="models/sft"
        )
        adapters = {p: agents.adapter_for(p) for names in cfg.groups().values() for p in names}
    else:
        backend = get_backend("transformers")("models/base", dtype="float32", device="cpu", batch_size=8)
    ctx = contexts(args.contexts)
    if args.datasets:
        ctx = ctx.filter(pl.col("dataset").is_in(args.datasets.split(",")))
    print(
        f"{ctx.height} contexts, {args.turns} turns each, {'trained agents' if args.trained else 'base model, no adapter'}"
    )
    for framing in args.framings.split(","):
        rows = run(framing, ctx, cfg, cards, backend, args.turns, adapters, args.instruction)
        for (dataset,), part in pl.DataFrame(rows).group_by("dataset", maintain_order=True):
            verdicts = part["verdict"].to_list()
            mix = Counter(rule for v in verdicts for rule in v.failed())
            summary = {
                "framing": framing, "dataset": dataset, "turns": len(verdicts),
                "pass_rate": round(sum(v.passed for v in verdicts) / len(verdicts), 3),
                "median_words": statistics.median(part["words"].to_list()),
                "prompt_tokens": round(part["prompt_tokens"][0]), "s_per_turn": round(part["seconds"][0], 2),
                "fails": {r: mix[r] for r in RULES if mix[r]},
            }  # fmt: skip
            print(json.dumps(summary))
            for text in part["text"].to_list()[: args.show]:
                print("   ", repr(text[:160]))


if __name__ == "__main__":
    main()
