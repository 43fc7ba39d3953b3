"""Stage candidates: K replies per (context, persona) from π_SFT → candidates table."""

from pathlib import Path

import polars as pl

from mascot.candidates import build_requests, generate_candidates, tidy_and_check
from mascot.data.sampling import sample_contexts
from mascot.format_reward import ReplyCheck
from mascot.llm import SamplingParams, get_backend
from mascot.personas import load_cards
from mascot.progress import Progress
from mascot.prompts import Prompts
from mascot.resume import RecordStore, fingerprint_dir, stable_hash
from mascot.schemas import CANDIDATES, CONTEXTS, read_table, write_table
from mascot.stage import log, run_stage, write_metrics


def main(args, cfg):
    c = cfg.candidates
    gen = c.generation
    contexts = read_table(args.contexts, CONTEXTS).filter(pl.col("split") == c.split)
    contexts = sample_contexts(contexts, c.contexts_per_domain, c.seed)
    if contexts.is_empty():
        raise ValueError(f"candidates.split: no '{c.split}' contexts in {args.contexts}; add it to ingest.splits")
    if gen.backend == "transformers":
        backend = get_backend("transformers")(
            args.base,
            merge=args.sft,
            dtype=cfg.model.dtype,
            device=cfg.model.device,
            batch_size=gen.batch_size,
            model_name=f"{cfg.model.base}+sft",
        )
        fingerprint = stable_hash(fingerprint_dir(args.base), fingerprint_dir(args.sft))
    else:
        backend = get_backend("openai")(gen.endpoint)
        fingerprint = stable_hash(backend.model_name)
    cards = load_cards(cfg.personas.dir)
    requests = build_requests(contexts, cards, cfg.personas, Prompts(cfg.prompts_dir), backend.count_tokens, c)
    store = RecordStore(Path(args.resume))
    log.info("%d requests; %d results already in %s", len(requests), store.loaded, args.resume)
    params = SamplingParams(temperature=c.temperature, top_p=c.top_p, max_new_tokens=c.max_new_tokens)
    rows = generate_candidates(
        requests,
        backend,
        params,
        store,
        fingerprint,
        chunk_size=gen.batch_size * 2,
        progress=Progress("candidates"),
    )
    table = pl.DataFrame(rows).with_columns(
        model=pl.lit(backend.model_name),
        backend=pl.lit(backend.name),
        temperature=pl.lit(c.temperature, pl.Float64),
        top_p=pl.lit(c.top_p, pl.Float64),
        max_new_tokens=pl.lit(c.max_new_tokens, pl.Int64),
        sample_idx=pl.col("sample_idx").cast(pl.Int64),
        seed=pl.col("seed").cast(pl.Int64),
        completion_tokens=pl.col("completion_tokens").cast(pl.Int64),
    )
    table, checked = tidy_and_check(table, contexts, ReplyCheck(cfg.format_reward, cards, cfg.groups()))
    write_table(table, args.out, CANDIDATES)
    distinct = table.group_by("context_id", "persona").agg(pl.col("response").n_unique() / pl.len())
    write_metrics(
        args.metrics,
        {
            "candidates": table.height,
            "contexts": contexts.height,
            "personas": table["persona"].n_unique(),
            "mean_completion_tokens": round(table["completion_tokens"].mean(), 2),
            "truncated_rate": round((table["finish_reason"] == "length").mean(), 4),
            "empty_rate": round((table["response"].str.strip_chars() == "").mean(), 4),
            "distinct_within_group": round(distinct[:, -1].mean(), 4),
        }
        | checked,
    )


if __name__ == "__main__":
    run_stage("candidates", main, "base", "sft", "contexts", "out", "metrics", "resume")
