"""Stage mbti: simulated users of the 16 Myers-Briggs types hold multi-turn conversations with the
group on held-out contexts; the judges score every agent turn; a per-agent × type heatmap."""

from pathlib import Path

import polars as pl

from mascot.agents import Agents
from mascot.data.sampling import sample_contexts
from mascot.eval.mbti import Simulation, converse, heatmap, judge_items, load_simulators, study_metrics, turn_scores
from mascot.eval.systems import SYSTEMS, EvalEngines
from mascot.format_reward import ReplyCheck
from mascot.judge.labeling import judge_all
from mascot.judge.rubric import load_rubric
from mascot.llm import SamplingParams
from mascot.personas import load_cards
from mascot.progress import Progress
from mascot.prompts import Prompts
from mascot.resume import RecordStore, fingerprint_dir, stable_hash
from mascot.schemas import CONTEXTS, JUDGMENTS, MBTI_CONVERSATIONS, MBTI_HEATMAP, read_table, write_table
from mascot.stage import log, run_stage, write_metrics


def main(args, cfg):
    st = cfg.mbti
    if st.dataset not in cfg.ingest.datasets:
        raise ValueError(f"mbti.dataset: '{st.dataset}' is not ingested (ingest.datasets: {cfg.ingest.datasets})")
    folder = Path(st.simulators)
    simulators, version = load_simulators(folder / "mbti.yaml")
    sims = [simulators.get(t, where="mbti.types") for t in (st.types or simulators.names())]
    user_prompts = Prompts(folder)
    contexts = read_table(args.contexts, CONTEXTS)
    pool = contexts.filter((pl.col("split") == cfg.evaluate.split) & (pl.col("dataset") == st.dataset))
    held = sample_contexts(pool, st.contexts_per_domain, st.seed)
    if held.is_empty():
        raise ValueError(f"mbti: no '{cfg.evaluate.split}' contexts of {st.dataset} in {args.contexts}")
    rubric = load_rubric(cfg.label.rubrics[st.dataset])  # read before the conversations, so a bad one fails now
    engines = EvalEngines(
        args.base, args.sft, Agents.load(args.agents), args.director, load_cards(cfg.personas.dir), cfg
    )
    system = SYSTEMS.get(st.system, where="mbti.system")
    user_params = SamplingParams(temperature=st.user_temperature, max_new_tokens=st.user_max_new_tokens)
    simulation = Simulation(engines.backend("base"), user_prompts, user_params, st.seed)
    sources = (args.base, args.sft, args.agents, args.director, cfg.prompts_dir, cfg.personas.dir, folder)
    # everything a conversation depends on, so a changed model, prompt, card or sampling param is never served stale
    fingerprint = stable_hash(*(fingerprint_dir(p) for p in sources), version, repr(system), cfg.conversation.model_dump(),
                              cfg.format_reward.model_dump(), repr(user_params), st.seed)  # fmt: skip
    log.info("%d simulated users × %d contexts × %d rounds with %s", len(sims), held.height, st.rounds, system.name)
    conversations = converse(
        engines.engine(system), simulation, sims, held, engines.cards, engines.groups(system), st.rounds,
        RecordStore(Path(args.resume)), fingerprint, Progress("conversations (types)"),
    )  # fmt: skip
    conversations = write_table(conversations, args.conversations, MBTI_CONVERSATIONS)
    engines.release()

    items = judge_items(conversations, held, engines.cards, {st.dataset: rubric})
    store = RecordStore(Path(args.cache))
    log.info("%d agent turns to judge; %d judgments cached in %s", len(items), store.loaded, args.cache)
    judgments, judge_metrics = judge_all(cfg.evaluate.judges, items, Prompts(cfg.prompts_dir), store, args.base,
                                         cfg.model, "turns")  # fmt: skip
    judgments = write_table(judgments, args.judgments, JUDGMENTS)
    scores = turn_scores(judgments)
    display = {n: engines.cards.get(n).display_name for n in engines.cards}
    cells = heatmap(conversations, scores, display)
    write_table(cells.select("type", "agent", "overall", "turns"), Path(args.plots) / "heatmap.csv", MBTI_HEATMAP)
    check = ReplyCheck(cfg.format_reward, engines.cards, cfg.groups())
    # a simulated user's conversation starts without the context's history (mascot/eval/mbti.py)
    unheard = held.with_columns(pl.lit(None, dtype=held.schema["history"]).alias("history"))
    write_metrics(
        args.metrics,
        study_metrics(conversations, scores, cells) | judge_metrics | check.table_metrics(conversations, unheard),
    )


if __name__ == "__main__":
    run_stage("mbti", main, "base", "sft", "agents", "director", "contexts", "conversations", "judgments", "metrics",
              "plots", "resume", "cache")  # fmt: skip
