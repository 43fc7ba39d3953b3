"""Group blocks, shared by the rollouts, the group labels and reward model, the director's GRPO and
the evaluation: a block is one group reply to a context, up to ``conversation.max_turns`` agent
turns, stored as one row per directive: what the director wrote, what was used (its own directive,
or the counted fallback), who spoke and what they said.

:func:`generate_rollouts` generates blocks in fixed chunks and saves each finished chunk to a record
store first, so a killed run resumes where it stopped and ends with the same table as an
uninterrupted one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict

import polars as pl

from mascot.chat.engine import GroupEngine, ReplyLog, group_names
from mascot.chat.state import ConversationState
from mascot.personas import Persona
from mascot.registry import Registry
from mascot.resume import RecordStore, stable_hash

GROUP = "group"  # who a block belongs to, in the persona column of block tables


def block_id(context_id: str, sample_idx: int) -> str:
    """Shaped like a candidate id (context|persona|sample), so block pairs pass the pair schema."""
    return f"{context_id}|{GROUP}|{sample_idx}"


def block_rows(bid: str, context_id: str, sample_idx: int, state: ConversationState, log: ReplyLog) -> list[dict]:
    """One row per directive of the reply; agent turns are matched to their directives in order."""
    replies = iter(state.history[state.reply_start :])
    rows = []
    for turn, directive in enumerate(log.directives):
        text = "" if directive.ends else next(replies).text
        raw, attempts = (log.raw[turn], log.attempts[turn]) if turn < len(log.raw) else ("", 0)
        drafts = log.drafts[turn] if turn < len(log.drafts) else int(not directive.ends)
        rows.append(
            {
                "block_id": bid,
                "context_id": context_id,
                "sample_idx": sample_idx,
                "turn": turn,
                "directive_raw": raw,
                "directive_attempts": attempts,
                "directive_valid": directive.valid,
                "directive_problem": directive.problem,
                "speaker": directive.speaker,
                "instruction": directive.instruction,
                "text": text,
                "reply_drafts": drafts,
            }
        )
    return rows


def generate_rollouts(
    contexts: pl.DataFrame,
    cards: Registry[Persona],
    groups: Mapping[str, Sequence[str]],
    engine: GroupEngine,
    samples: int,
    store: RecordStore,
    fingerprint: str,
    chunk_size: int,
    progress: Callable[..., None] = lambda done, total, fresh=True: None,
    tally: Counter | None = None,
) -> list[dict]:
    """Rows of every block, in (context, sample) order; chunks already in ``store`` are reused.

    ``tally`` is a counter the engine's backend keeps (a prompting wrapper's format hits and
    misses): what each chunk added to it is stored with the chunk, and on return it holds the sum
    over this table's chunks, generated now or earlier."""
    plan = [(ctx, s) for ctx in contexts.iter_rows(named=True) for s in range(samples)]
    settings = asdict(engine.settings)
    rows: list[dict] = []
    used: list[str] = []
    counted: Counter = Counter()
    for start in range(0, len(plan), chunk_size):
        chunk = plan[start : start + chunk_size]
        ids = [block_id(ctx["context_id"], s) for ctx, s in chunk]
        rules = engine.reply_rules.cfg.model_dump() if engine.reply_rules is not None else None
        key = stable_hash(fingerprint, [ctx for ctx, _ in chunk], ids, settings, engine.order, chunk_size, rules)
        tally_key = key + "|tally"
        used += [key, tally_key]
        fresh = key not in store or (tally is not None and tally_key not in store)
        if fresh:
            before = Counter(tally or {})
            states = [
                ConversationState.start(ctx, groups[ctx["dataset"]], group_names(cards, groups[ctx["dataset"]]))
                for ctx, _ in chunk
            ]
            logs = engine.reply(states, keys=ids)
            records = [(key, [r for (ctx, s), bid, st, lg in zip(chunk, ids, states, logs)
                              for r in block_rows(bid, ctx["context_id"], s, st, lg)])]  # fmt: skip
            if tally is not None:
                records.append((tally_key, dict(tally - before)))
            store.put_many(records)
        rows += store.get(key)
        if tally is not None:
            counted.update(store.get(tally_key))
        progress(min(start + chunk_size, len(plan)), len(plan), fresh)
    store.compact(used)
    if tally is not None:
        tally.clear()
        tally.update(counted)
    return rows


def group_cards(cards: Registry[Persona], groups: Mapping[str, Sequence[str]]) -> dict[str, tuple[Persona, ...]]:
    """dataset → the cards of its group, in the group's order."""
    return {ds: tuple(cards.get(n, where=f"personas.{ds}") for n in names) for ds, names in groups.items()}


def redrafted_rate(turns: pl.DataFrame) -> float | None:
    """The share of companion turns whose first draft the reply check refused (``reply_drafts`` > 1):
    what a table's pass rate would lose without the redrafts."""
    if turns.is_empty() or "reply_drafts" not in turns.columns:
        return None
    return round((turns["reply_drafts"] > 1).mean(), 4)
