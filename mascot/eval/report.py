"""The evaluation report: the paper's tables from ``metrics/eval.json``, MASCOT against the best
baseline, and sample conversations side by side (the paper's case-study view), written as Markdown
and as one self-contained HTML page from the same tables.

Metric keys are ``{split}.{system}.{family}.{metric}`` (family: agent, collective, auto), as
:mod:`mascot.eval.evaluate` writes them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from mascot.chat.directive import END
from mascot.eval.human import context_lines
from mascot.format_reward import ReplyCheck
from mascot.schemas import DOMAINS

# the reply check first and the words per turn beside the rest: a system of fragments scores well on
# redundancy (and on raw distinct-n, which EAD replaces), so those figures are read against these
AUTO = [("format_pass_rate", "Reply check"), ("words_per_turn_median", "Median words/turn"),
        ("redrafted_rate", "Redrafted"), ("ead_1", "EAD-1"), ("ead_2", "EAD-2"), ("redundancy", "Redundancy ↓"),
        ("identifiability", "Identifiability"), ("identifiability_chance", "(chance)"),
        ("words_per_turn", "Words/turn"), ("turns_per_reply", "Turns/reply"), ("speaker_entropy", "Speaker entropy")]  # fmt: skip


PERCENT = {"format_pass_rate", "redrafted_rate"}


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""
    bold: set[tuple[int, int]] = field(default_factory=set)  # (row, column) of each column's best value
    heat: dict[tuple[int, int], float] = field(default_factory=dict)  # (row, column) → 0..1, shaded in HTML


@dataclass
class Case:
    title: str
    context: list[str]  # the situation and the conversation so far, one line each
    replies: dict[str, list[tuple[str, str, str | None]]]  # system → [(speaker's display name, text, failed check)]


def criteria(metrics: Mapping[str, object], family: str, split: str, systems: Sequence[str]) -> list[str]:
    """The criteria measured for ``family`` on ``split`` by any of ``systems``, in first-seen order, overall last."""
    seen: dict[str, None] = {}
    for key in metrics:
        parts = key.split(".")
        if (len(parts) == 4 and parts[0] == split and parts[1] in systems and parts[2] == family
                and not parts[3].endswith("_std") and parts[3] != "n"):  # fmt: skip
            seen.setdefault(parts[3])
    names = [c for c in seen if c != "overall"]
    return names + (["overall"] if "overall" in seen else [])


def score_table(metrics, family: str, split: str, systems: Sequence[str], title: str) -> Table | None:
    names = criteria(metrics, family, split, systems)
    if not names:
        return None
    rows, values = [], []
    for system in systems:
        cells, nums = [system], []
        for c in names:
            mean, std = metrics.get(f"{split}.{system}.{family}.{c}"), metrics.get(f"{split}.{system}.{family}.{c}_std")
            nums.append(mean)
            cells.append("–" if mean is None else f"{mean:.1f}" + ("" if std is None else f" ± {std:.1f}"))
        if any(n is not None for n in nums):
            rows.append(cells)
            values.append(nums)
    header = ["system", *[c.replace("_", " ").title() for c in names]]
    return Table(title, header, rows, bold=_best(values, higher=[True] * len(names)))


def auto_table(metrics, split: str, systems: Sequence[str]) -> Table | None:
    rows, values = [], []
    for system in systems:
        nums = [metrics.get(f"{split}.{system}.auto.{k}") for k, _ in AUTO]
        if all(n is None for n in nums):
            continue
        rows.append([system, *("–" if n is None else f"{n:.0%}" if k in PERCENT else f"{n:.3g}"
                               for (k, _), n in zip(AUTO, nums))])  # fmt: skip
        values.append(nums)
    if not rows:
        return None
    higher = [True, None, None, True, True, False, True, None, None, None, True]  # None: no better or worse
    note = ("Reply check: share of turns a companion could post as they are (no speaker tag, no other voice, no "
            "narration, no talk of the director or the prompt, at least 3 words, a finished sentence, no loop, no "
            "echo of an earlier line). "
            "Redrafted: share of turns whose first draft the check refused and that were sampled again "
            "(conversation.agent_attempts), the same for every system.")  # fmt: skip
    return Table(f"Automatic metrics — {split}", ["system", *(h for _, h in AUTO)], rows, note, _best(values, higher))


def speakers_table(metrics, dataset: str, systems: Sequence[str]) -> Table | None:
    """Each system's share of turns per persona: a persona the director never names shows 0 %."""
    shares = {}
    for system in systems:
        prefix = f"{dataset}.{system}.speakers."
        row = {k[len(prefix) :]: v for k, v in metrics.items() if k.startswith(prefix)}
        if row:
            shares[system] = row
    if not shares:
        return None
    personas = list(next(iter(shares.values())))
    rows = [[system, *(f"{row.get(p, 0):.0%}" for p in personas)] for system, row in shares.items()]
    return Table(f"Who spoke — {dataset} (share of turns)", ["system", *personas], rows)


def _best(values: list[list[float | None]], higher: Sequence[bool | None]) -> set[tuple[int, int]]:
    out = set()
    for j, direction in enumerate(higher):
        column = [(v[j], i) for i, v in enumerate(values) if v[j] is not None]
        if direction is None or len(column) < 2:
            continue
        best = max(column)[0] if direction else min(column)[0]
        out |= {(i, j + 1) for value, i in column if value == best}
    return out


def versus_table(metrics, datasets: Sequence[str]) -> Table | None:
    rows = []
    for dataset in datasets:
        for family in ("agent", "collective"):
            key = f"{dataset}.mascot_vs_best.{family}"
            if f"{key}.gain" not in metrics:
                continue
            low, high = metrics[f"{key}.ci_low"], metrics[f"{key}.ci_high"]
            verdict = "better" if low > 0 else "worse" if high < 0 else "no clear difference"
            ours = metrics.get(f"{dataset}.mascot.auto.format_pass_rate")
            theirs = metrics.get(f"{dataset}.{metrics[f'{key}.baseline']}.auto.format_pass_rate")
            if verdict == "better" and (ours is None or theirs is None or ours < theirs):
                # a judge's preference for replies that fail the reply check more often is no win
                verdict = "no verdict: reply check " + (
                    "not measured" if ours is None or theirs is None else f"{ours:.0%} against {theirs:.0%}"
                )
            rows.append([dataset, family, str(metrics[f"{key}.baseline"]), f"{metrics[f'{key}.gain']:+.1f}",
                         f"[{low:+.1f}, {high:+.1f}]", str(metrics[f"{key}.contexts"]), verdict])  # fmt: skip
    if not rows:
        return None
    confidence = metrics.get("confidence", 0.95)
    return Table(
        "MASCOT against the best baseline (overall, 0–100)",
        ["dataset", "metric", "best baseline", "MASCOT − baseline", f"{confidence:.0%} CI", "contexts", "verdict"],
        rows, note="Paired by context; the interval is a bootstrap over contexts.",
    )  # fmt: skip


def pairwise_table(metrics, datasets: Sequence[str], systems: Sequence[str]) -> Table | None:
    rows = []
    for dataset in datasets:
        for system in systems:
            key = f"{dataset}.mascot_vs.{system}"
            if f"{key}.win" in metrics:
                rows.append([dataset, system, *(f"{metrics[f'{key}.{k}']:.0%}" for k in ("win", "tie", "loss")),
                             str(metrics[f"{key}.pairs"])])  # fmt: skip
    if not rows:
        return None
    bias = ", ".join(
        f"{d} {metrics[f'{d}.pairwise.position_bias']:+.2f}"
        for d in datasets
        if f"{d}.pairwise.position_bias" in metrics
    )
    return Table(
        "MASCOT against each system, pairwise (judge, both orders)", ["dataset", "opponent", "win", "tie", "loss", "pairs"],
        rows, note=f"Each pair is judged with MASCOT's reply first and second; the judge's lean to the second position "
        f"(−2…2: {bias}) cancels in the result.",
    )  # fmt: skip


def cases(
    replies: pl.DataFrame,
    contexts: pl.DataFrame,
    display: Mapping[str, str],
    systems: Sequence[str],
    n: int,
    check: ReplyCheck | None = None,
) -> list[Case]:
    """The first ``n`` contexts (one per domain first), every system's first reply to each, each turn
    with the rules of the reply check it fails (``check``; None when it passes or is not checked)."""
    replies = replies.filter(pl.col("speaker") != END)
    picked = contexts.filter(pl.col("context_id").is_in(replies["context_id"].unique().to_list()))
    picked = picked.sort("domain", "context_id").unique("domain", keep="first", maintain_order=True)
    out = []
    for ctx in picked.head(n).iter_rows(named=True):
        lines = context_lines(ctx)
        by_system = {}
        for system in systems:
            part = replies.filter((pl.col("system") == system) & (pl.col("context_id") == ctx["context_id"]))
            if part.is_empty():
                continue
            first = part.filter(pl.col("sample_idx") == part["sample_idx"].min()).sort("turn")
            failed = (
                [", ".join(v.failed()) or None for v in check.turns(first.to_dicts(), {ctx["context_id"]: ctx})]
                if check
                else [None] * first.height
            )
            by_system[system] = [(display.get(s, s), t, f) for s, t, f in zip(first["speaker"], first["text"], failed)]
        out.append(Case(f"{ctx['dataset']} · {ctx['domain']} · {ctx['context_id']}", lines, by_system))
    return out


def mbti_table(cells: pl.DataFrame, metrics: Mapping[str, object], system: str) -> Table | None:
    """The MBTI heatmap: simulated user type × agent, each cell the mean overall of that agent's
    turns with that type (its number of turns in parentheses), shaded from the lowest to the
    highest cell."""
    if cells.is_empty():
        return None
    agents = sorted(set(cells["agent"]))
    values = {(r["type"], r["agent"]): (r["overall"], r["turns"]) for r in cells.iter_rows(named=True)}
    low, high = float(cells["overall"].min()), float(cells["overall"].max())
    rows, heat = [], {}
    for i, t in enumerate(sorted(set(cells["type"]))):
        row = [t]
        for j, a in enumerate(agents, 1):
            if (t, a) in values:
                v, n = values[(t, a)]
                row.append(f"{v:.1f} ({n})")
                heat[(i, j)] = (v - low) / (high - low) if high > low else 0.5
            else:
                row.append("–")
        overall = metrics.get(f"{t}.overall")
        row.append(f"{overall:.1f}" if isinstance(overall, (int, float)) else "–")
        rows.append(row)
    spread = metrics.get("types_spread.overall")
    note = (f"Simulated users of each type talked with {system} for {metrics.get('conversations', '?')} conversations; "
            f"cells: mean overall (0–100) of the agent's judged turns with that type (turns in parentheses); "
            f"a dash: that agent never spoke with that type. Spread of the types' means: {spread}.")  # fmt: skip
    return Table("MBTI study — agent × simulated user type (0–100)", ["Type", *agents, "All agents"], rows, note,
                 heat=heat)  # fmt: skip


# (metrics file, key, label) of what the trained stages' held-out checks compare before and after
TRAINING = [
    ("agents", "format_reward", "Agents (GRPO): format reward"),
    ("agents", "format_pass_rate", "Agents: reply check pass rate"),
    ("agents", "persona_rm", "Agents: persona reward model"),
    ("director", "group_rm", "Director (GRPO): group reward model"),
    ("director", "invalid_directive_rate", "Director: invalid directives ↓"),
    ("director", "instruction_own_card", "Director: instructions from the named companion's card"),
]


def training_table(agents: Mapping[str, object], director: Mapping[str, object]) -> Table | None:
    """What GRPO changed on held-out contexts (metrics/grpo_agents.json, metrics/grpo_director.json):
    each figure before and after, the gain with its bootstrap interval where the stage computed one,
    and whether that interval lies wholly above (or below) zero."""
    sources = {"agents": agents, "director": director}
    rows = []
    for source, key, label in TRAINING:
        m = sources[source]
        before, after = m.get(f"{key}_before"), m.get(f"{key}_after")
        if not isinstance(before, (int, float)) or not isinstance(after, (int, float)):
            continue
        low, high = m.get(f"{key}_gain_ci_low"), m.get(f"{key}_gain_ci_high")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            gain = f"{after - before:+.3f} [{low:+.3f}, {high:+.3f}]"
            verdict = "above zero" if low > 0 else "below zero" if high < 0 else "includes zero"
        else:
            gain, verdict = f"{after - before:+.3f}", "–"
        rows.append([label, f"{before:.3f}", f"{after:.3f}", gain, verdict])
    if not rows:
        return None
    confidence = agents.get("confidence", director.get("confidence", 0.95))
    note = (f"Held-out contexts, the same prompts and seeds before and after training; gain: after − before with "
            f"its {confidence:.0%} bootstrap interval over contexts. The agents' check samples "
            f"{agents.get('check_replies', '?')} replies, the director's {director.get('check_blocks', '?')} blocks.")  # fmt: skip
    return Table("What training changed (held-out check)", ["Figure", "Before", "After", "Gain [interval]", "Interval"],
                 rows, note)  # fmt: skip


def build_tables(metrics: Mapping[str, object], systems: Sequence[str], datasets: Sequence[str]) -> list[Table]:
    tables: list[Table | None] = [versus_table(metrics, datasets), pairwise_table(metrics, datasets, systems)]
    for dataset in datasets:
        splits = [*DOMAINS[dataset], dataset]
        for split in splits:
            tables.append(score_table(metrics, "agent", split, systems, f"Agent-specific metrics — {split} (0–100)"))
        for split in splits:
            tables.append(score_table(metrics, "collective", split, systems, f"Collective metrics — {split} (0–100)"))
        tables.append(auto_table(metrics, dataset, systems))
        tables.append(speakers_table(metrics, dataset, systems))
    return [t for t in tables if t is not None]


# ------------------------------------------------------------------ rendering


def markdown(title: str, intro: str, tables: Sequence[Table], case_list: Sequence[Case]) -> str:
    out = [f"# {title}", "", intro, ""]
    for t in tables:
        out += [f"## {t.title}", "", "| " + " | ".join(t.header) + " |", "|" + "---|" * len(t.header)]
        for i, row in enumerate(t.rows):
            cells = [f"**{c}**" if (i, j) in t.bold else c for j, c in enumerate(row)]
            out.append("| " + " | ".join(cells) + " |")
        out += ([""] + [t.note] if t.note else []) + [""]
    if case_list:
        out += ["## Sample conversations", ""]
    for case in case_list:
        out += [f"### {case.title}", "", *(f"> {line}  " for line in case.context), ""]
        for system, turns in case.replies.items():
            out += [f"**{system}**", "", *(f"- *{who}:* {text}" + _flag(failed) for who, text, failed in turns), ""]
    return "\n".join(out)


CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;color:#1d1d1b}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f3f3ef}
td.best{font-weight:700;background:#eef5ea}.note{color:#666;font-size:.85rem}
.context{background:#f6f6f3;padding:.5rem .8rem;border-radius:.4rem;font-size:.9rem}
.side{display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:.6rem;margin:.5rem 0 1.5rem}
.reply{border:1px solid #ddd;border-radius:.4rem;padding:.5rem .7rem;font-size:.88rem}
.reply h4{margin:0 0 .3rem;font-size:.9rem}.reply p{margin:.2rem 0}.who{font-weight:600}
.wrap{overflow-x:auto}.failed{color:#7a271a}.flag{font-size:.78rem;color:#b42318;white-space:nowrap}
"""


def _flag(failed: str | None) -> str:
    """How a turn that fails the reply check is marked in the sample conversations."""
    return f" ⚠ *fails the reply check: {failed}*" if failed else ""


def _shade(level: float | None) -> str:
    """A heatmap cell's background: pale for the lowest, strong blue for the highest."""
    if level is None:
        return ""
    return f" style='background:rgba(37,99,235,{0.08 + 0.6 * level:.2f})'"


def html_page(title: str, intro: str, tables: Sequence[Table], case_list: Sequence[Case]) -> str:
    e = html.escape
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
           f"content='width=device-width, initial-scale=1'><title>{e(title)}</title><style>{CSS}</style></head><body>",
           f"<h1>{e(title)}</h1><p>{e(intro)}</p>"]  # fmt: skip
    for t in tables:
        out.append(
            f"<h2>{e(t.title)}</h2><div class='wrap'><table><tr>{''.join(f'<th>{e(h)}</th>' for h in t.header)}</tr>"
        )
        for i, row in enumerate(t.rows):
            cells = "".join(
                f"<td{' class=best' if (i, j) in t.bold else ''}{_shade(t.heat.get((i, j)))}>{e(c)}</td>"
                for j, c in enumerate(row)
            )
            out.append(f"<tr>{cells}</tr>")
        out.append("</table></div>" + (f"<p class='note'>{e(t.note)}</p>" if t.note else ""))
    if case_list:
        out.append("<h2>Sample conversations</h2>")
    for case in case_list:
        out.append(
            f"<h3>{e(case.title)}</h3><div class='context'>{'<br>'.join(e(x) for x in case.context)}</div><div class='side'>"
        )
        for system, turns in case.replies.items():
            body = "".join(
                f"<p{' class=failed' if failed else ''}><span class='who'>{e(who)}:</span> {e(text)}"
                + (f" <span class='flag'>⚠ fails the reply check: {e(failed)}</span>" if failed else "") + "</p>"
                for who, text, failed in turns
            )  # fmt: skip
            out.append(f"<div class='reply'><h4>{e(system)}</h4>{body}</div>")
        out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out)
