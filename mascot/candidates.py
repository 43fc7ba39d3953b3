"""Stage 1, step 1: K persona replies per context from π_SFT."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from mascot.config import CandidatesConfig, PersonasConfig
from mascot.format_reward import ReplyCheck, pass_rates_by, reply_check_metrics
from mascot.llm import Backend, Message, SamplingParams
from mascot.personas import Persona
from mascot.prompts import Prompts, fit_history
from mascot.registry import Registry
from mascot.resume import RecordStore, stable_hash
from mascot.seeds import derive_seed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    context_id: str
    persona: str
    sample_idx: int
    messages: list[Message]
    seed: int

    @property
    def candidate_id(self) -> str:
        return f"{self.context_id}|{self.persona}|{self.sample_idx}"


def build_requests(
    contexts: pl.DataFrame,
    cards: Registry[Persona],
    personas: PersonasConfig,
    prompts: Prompts,
    count_tokens: Callable[[list[Message]], int],
    cfg: CandidatesConfig,
) -> list[Request]:
    """K requests per (context, persona), the history trimmed to the prompt budget."""
    requests = []
    for ctx in contexts.iter_rows(named=True):
        for name in personas.for_dataset(ctx["dataset"]):
            persona = cards.get(name, where=f"personas.{ctx['dataset']}")
            messages = fit_history(
                lambda h, persona=persona, ctx=ctx: prompts.persona_messages(persona, ctx, h),
                ctx["history"],
                count_tokens,
                cfg.max_prompt_tokens,
            )
            for k in range(cfg.k):
                seed = derive_seed(cfg.seed, ctx["context_id"], name, k)
                requests.append(Request(ctx["context_id"], name, k, messages, seed))
    return requests


def generate_candidates(
    requests: list[Request],
    backend: Backend,
    params: SamplingParams,
    store: RecordStore,
    model_fingerprint: str,
    chunk_size: int,
    progress: Callable[..., None] = lambda done, total, fresh=True: None,
) -> list[dict]:
    """Generate in fixed chunks, each saved to ``store`` as soon as it is done.

    Chunks are cut from the full request list before anything is skipped, so a
    resumed run sends exactly the batches an uninterrupted run would and its
    table is identical.
    """
    rows: list[dict] = []
    used: list[str] = []
    for start in range(0, len(requests), chunk_size):
        chunk = requests[start : start + chunk_size]
        keys = [stable_hash(model_fingerprint, r.messages, r.seed, params.__dict__, chunk_size) for r in chunk]
        used += keys
        fresh = not all(k in store for k in keys)
        if fresh:
            gens = backend.generate([r.messages for r in chunk], params, [r.seed for r in chunk])
            store.put_many((k, g.__dict__) for k, g in zip(keys, gens))
        for req, key in zip(chunk, keys):
            gen = store.get(key)
            rows.append(
                {
                    "candidate_id": req.candidate_id,
                    "context_id": req.context_id,
                    "persona": req.persona,
                    "sample_idx": req.sample_idx,
                    "prompt": gen["prompt"],
                    "response": gen["text"],
                    "completion_tokens": gen["completion_tokens"],
                    "finish_reason": gen["finish_reason"],
                    "seed": req.seed,
                }
            )
        progress(min(start + chunk_size, len(requests)), len(requests), fresh)
    store.compact(used)
    return rows


def tidy_and_check(table: pl.DataFrame, contexts: pl.DataFrame, check: ReplyCheck) -> tuple[pl.DataFrame, dict]:
    """The candidates as the chat would keep them (:func:`~mascot.format_reward.tidy_reply`) and the
    reply check's metrics on them, as rollouts and evaluation check theirs (the kept text, read alone):
    overall, per dataset and per persona, and how many replies were trimmed."""
    by_id = {r["context_id"]: r for r in contexts.iter_rows(named=True)}
    texts, verdicts, datasets = [], [], []
    for row in table.iter_rows(named=True):
        ctx = by_id[row["context_id"]]
        text = check.tidy(row["response"], ctx["dataset"], row["persona"], ctx["history"])
        texts.append(text)
        datasets.append(ctx["dataset"])
        verdicts.append(check.verdict(text, ctx["dataset"], row["persona"], ctx["history"], context=ctx))
    metrics = reply_check_metrics(verdicts) | pass_rates_by(
        verdicts, dataset=datasets, persona=table["persona"].to_list()
    )
    metrics["trimmed_replies"] = sum(a != b.strip() for a, b in zip(texts, table["response"]))
    return table.with_columns(response=pl.Series(texts, dtype=pl.Utf8)), metrics
