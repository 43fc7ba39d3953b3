"""Stage 2 on tiny random models: the group reward model, the director's states and rewards, a real
two-step director GRPO run, and the before/after check."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from mascot.agents import Agents
from mascot.blocks import GROUP, block_id
from mascot.chat.directive import END
from mascot.config import profile_config
from mascot.director_sft import WARM_META, odd_first_tokens, teacher_examples, train_director_sft
from mascot.group_rm import group_subjects
from mascot.grpo_director import (
    DirectiveFormatReward,
    DirectorWorld,
    GroupRMReward,
    SpeakerBalanceReward,
    below_valid,
    compare_director,
    director_check_metrics,
    director_states,
    train_director,
)
from mascot.llm import SamplingParams
from mascot.personas import load_cards
from mascot.prompts import Prompts
from mascot.reward_model import RewardModel, RMEncoder, train_reward_model
from mascot.schemas import DIRECTOR_CHECK, validate
from mascot.stats import speaker_entropy
from mascot.trained_group import DIRECTOR, WARM, group_engine

from .conftest import REPO, build_tiny_agents, build_tiny_rm

pytestmark = pytest.mark.usefixtures("one_thread")
CARDS = load_cards(REPO / "configs/personas")
PAIR = ["the_anchor", "the_catalyst"]
GROUPS = {"empathetic_dialogues": PAIR}
VALID = "Speaker: the_catalyst\nInstruction: Ask what would help."


def tiny_cfg(base):
    cfg = profile_config("tiny")
    cfg.model.base = str(base)
    cfg.model.device = "cpu"
    cfg.personas.dir = str(REPO / "configs/personas")
    cfg.prompts_dir = str(REPO / "configs/prompts")
    cfg.ingest.datasets = ["empathetic_dialogues"]
    cfg.personas.empathetic_dialogues = PAIR
    cfg.grpo_director.learning_rate = 0.05
    return cfg


def contexts(n=4):
    return pl.DataFrame(
        [
            {"context_id": f"c{i}", "dataset": "empathetic_dialogues", "split": "train" if i < n // 2 else "valid",
             "domain": "negative", "emotion": "sad", "situation": f"My exam went badly, part {i}.", "query": None,
             "history": [{"speaker": "user", "text": f"I failed the exam I studied for, part {i}."}]}
            for i in range(n)
        ]
    )  # fmt: skip


def rollout_rows(context_id, sample, turns, end=False):
    rows = [
        {"block_id": block_id(context_id, sample), "context_id": context_id, "sample_idx": sample, "turn": t,
         "directive_raw": "", "directive_attempts": 0, "directive_valid": True, "directive_problem": None, "speaker": speaker,
         "instruction": f"say {t}", "text": text}
        for t, (speaker, text) in enumerate(turns)
    ]  # fmt: skip
    if end:
        rows.append({**rows[-1], "turn": len(turns), "speaker": END, "instruction": "", "text": ""})
    return rows


@pytest.fixture(scope="module")
def agents(tiny_model, tmp_path_factory):
    return Agents.load(build_tiny_agents(tiny_model, tmp_path_factory.mktemp("agents"), PAIR))


@pytest.fixture(scope="module")
def group_rm(tiny_model, tmp_path_factory):
    meta = {"kind": "group", "max_length": 1024, "reply_room": 224, "reward_mean": 0.1, "reward_std": 0.5}
    return build_tiny_rm(tiny_model, tmp_path_factory.mktemp("group_rm"), **meta)


# --------------------------------------------------------------------------- the group reward model


def test_the_group_reward_model_reads_the_whole_group_and_the_block(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    ctx = contexts(2)
    blocks = {"c0": ("The Anchor: That sounds so heavy.\nThe Catalyst: What did the exam test?",
                     "The Anchor: ok\nThe Catalyst: ok"),
              "c1": ("The Anchor: I hear how much you cared.\nThe Catalyst: Which part surprised you?",
                     "The Anchor: fine\nThe Catalyst: fine")}  # fmt: skip
    pairs = pl.DataFrame(
        [
            {"pair_id": f"{c}|{GROUP}|0>1", "context_id": c, "persona": GROUP, "chosen": good, "rejected": bad,
             "chosen_id": f"{c}|{GROUP}|0", "rejected_id": f"{c}|{GROUP}|1", "score_chosen": 4.0,
             "score_rejected": 2.0, "margin": 2.0}
            for c, (good, bad) in blocks.items()
        ]
    )  # fmt: skip
    resolve = group_subjects(CARDS, GROUPS)
    cfg = profile_config("tiny").group_rm.model_copy(update={"max_steps": 2})
    metrics = train_reward_model(
        tiny_model, pairs, ctx, resolve, Prompts(REPO / "configs/prompts"), cfg, tmp_path / "rm", tmp_path / "p",
        kind="group", reply_room=200,
    )  # fmt: skip
    assert metrics["train_pairs"] + metrics["eval_pairs"] == 2 and metrics["steps"] == 2
    rm = RewardModel.load(tmp_path / "rm")
    assert rm.meta["kind"] == "group" and rm.encoder.reply_room == 200 and rm.meta["reward_std"] > 0
    # the prompt names every persona of the group, and the block follows as the reply
    group = resolve(GROUP, ctx.row(0, named=True), "test")
    ids = RMEncoder(AutoTokenizer.from_pretrained(tiny_model), Prompts(REPO / "configs/prompts"), 1024).encode_many(
        [ctx.row(0, named=True)], [group], [blocks["c0"][0]]
    )[0]
    text = AutoTokenizer.from_pretrained(tiny_model).decode(ids)
    assert "The Anchor, the" in text and "The Catalyst, the" in text and "Write the group's next message." in text
    assert text.rstrip().endswith("What did the exam test?<|im_end|>")
    [score] = rm.score([ctx.row(0, named=True)], [group], [blocks["c0"][0]])
    assert math.isfinite(score)


def test_a_block_pair_must_belong_to_the_group():
    resolve = group_subjects(CARDS, GROUPS)
    with pytest.raises(ValueError, match="persona 'the_anchor', but a block pair belongs to the whole group"):
        resolve("the_anchor", {"dataset": "empathetic_dialogues"}, "pair p1")
    with pytest.raises(ValueError, match="dataset 'qmsum' has no group"):
        resolve(GROUP, {"dataset": "qmsum"}, "pair p1")


# --------------------------------------------------------------------------- director states and rewards


def test_director_states_are_every_distinct_point_a_directive_was_asked():
    rollouts = pl.DataFrame(
        rollout_rows("c0", 0, [("the_anchor", "a"), ("the_catalyst", "b")])  # used its whole budget of 2
        + rollout_rows("c0", 1, [("the_catalyst", "x")], end=True)  # ended after one turn
        + rollout_rows("c1", 0, [("the_anchor", "y")], end=True)
    )
    states = director_states(rollouts, max_turns=2, max_states=None, seed=0)
    prefixes = sorted((s["context_id"], [t["text"] for t in json.loads(s["prefix"])]) for s in states)
    # c0's empty start is one state, not two; no state after the second turn of a 2-turn budget
    assert prefixes == [("c0", []), ("c0", ["a"]), ("c0", ["x"]), ("c1", []), ("c1", ["y"])]
    assert len(director_states(rollouts, 2, max_states=3, seed=0)) == 3
    assert director_states(rollouts, 2, 3, seed=0) == director_states(rollouts, 2, 3, seed=0)


@pytest.fixture(scope="module")
def world(tiny_model, agents, group_rm):
    cfg = tiny_cfg(tiny_model)
    engine = group_engine(tiny_model, None, agents, CARDS, cfg)
    by_id = {r["context_id"]: r for r in contexts().iter_rows(named=True)}
    return DirectorWorld(engine, RewardModel.load(group_rm), by_id, CARDS, GROUPS)


def test_rewards_take_what_grpo_passes_and_execute_the_directive(world):
    prefix = json.dumps([{"speaker": "the_anchor", "instruction": "validate", "text": "That sounds hard."}])
    texts = [VALID, "nonsense", "Speaker: END", "Speaker: the_anchor\nInstruction: Name the feeling."]
    n = len(texts)
    kwargs = dict(prompts=[[{"role": "user", "content": "p"}]] * n, context_id=["c0"] * n, prefix=[prefix] * n,
                  completion_ids=[[1, 2]] * n, trainer_state=None)  # fmt: skip
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    logged = {}
    valid = DirectiveFormatReward(world)(completions=completions, log_metric=logged.__setitem__, **kwargs)
    # the anchor has spoken in this reply: the speaker rule (least_spoken) refuses her a second turn
    assert valid == [1.0, 0.0, 1.0, 0.0] and logged["director/valid"] == 0.5
    # the catalyst has not spoken: ending the reply passes over her; the fallback's choice is the
    # engine's, not the director's, so it earns nothing
    balanced = SpeakerBalanceReward(world)(completions=completions, log_metric=logged.__setitem__, **kwargs)
    assert balanced == [1.0, 0.0, 0.0, 0.0] and logged["director/balanced"] == 0.25
    raw = GroupRMReward(world, standardize=False, invalid_below_valid=False)
    rewards = raw(completions=completions, log_metric=logged.__setitem__, **kwargs)
    assert logged["director/end"] == 0.25
    states, directives = world.execute(["c0"] * n, [prefix] * n, texts)
    assert [d.speaker for d in directives] == ["the_catalyst", "the_catalyst", END, "the_catalyst"]
    assert not directives[1].valid and not directives[3].valid  # the fallback: who has not spoken yet in this reply
    assert [s.turns_this_reply() for s in states] == [2, 2, 1, 2]  # END adds no turn
    assert states[2].reply_transcript() == "The Anchor: That sounds hard."
    assert rewards == pytest.approx(world.score(states), abs=1e-5)  # the block really executed is scored
    standardized = GroupRMReward(world, invalid_below_valid=False)(completions=completions, **kwargs)
    assert standardized == pytest.approx([(r - 0.1) / 0.5 for r in rewards], abs=1e-4)
    # by default an invalid directive's block scores one unit under the worst valid one of its prompt
    gated = GroupRMReward(world)(completions=completions, **kwargs)
    floor = min(standardized[0], standardized[2])
    assert gated == pytest.approx([standardized[0], floor - 1, standardized[2], floor - 1], abs=1e-4)


def test_an_invalid_directive_ranks_under_every_valid_one_of_its_prompt_only():
    rewards = below_valid([0.5, 2.0, -0.3, 9.0, 1.0], [True, False, True, False, False], ["a", "a", "a", "b", "b"])
    assert rewards == [0.5, -1.3, -0.3, 9.0, 1.0]  # prompt b has no valid directive: nothing to rank under


def test_speaker_balance_pays_an_end_only_once_nobody_is_left_out(world):
    # GRPO learned to end replies early while an END paid as much as a quiet companion's turn
    both = json.dumps([{"speaker": s, "instruction": "i", "text": "Hm."} for s in PAIR])
    prefixes = [both, both, "[]"]
    texts = ["Speaker: END", "Speaker: the_anchor\nInstruction: Sum up.", "Speaker: the_anchor\nInstruction: Hi."]
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    balanced = SpeakerBalanceReward(world)(
        prompts=None, completions=completions, context_id=["c0"] * 3, prefix=prefixes
    )
    assert balanced == [1.0, 1.0, 1.0]  # after both spoke, ending and a second round are equally balanced
    end_first = [[{"role": "assistant", "content": "Speaker: END"}]]
    assert SpeakerBalanceReward(world)(prompts=None, completions=end_first, context_id=["c0"], prefix=["[]"]) == [0.0]


def test_speaker_balance_pays_the_companion_the_other_samples_of_its_prompt_passed_over(world):
    # a warm start with a favourite left one companion silent in every held-out reply; the group's
    # advantages must favour the rarely named one, and each prompt's samples count only among themselves
    anchor, catalyst = ("Speaker: the_anchor\nInstruction: Hi.", "Speaker: the_catalyst\nInstruction: Ask.")
    texts = [anchor, anchor, anchor, catalyst, anchor, catalyst, "nonsense"]
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    ids = ["c0"] * 4 + ["c1"] * 3
    rewards = SpeakerBalanceReward(world)(prompts=None, completions=completions, context_id=ids, prefix=["[]"] * 7)
    assert rewards == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0, 1.0, 1.0, 0.0])
    same = [[{"role": "assistant", "content": anchor}]] * 2
    assert SpeakerBalanceReward(world)(prompts=None, completions=same, context_id=["c0"] * 2, prefix=["[]"] * 2) == [
        0,
        0,
    ]


def test_speaker_entropy():
    assert speaker_entropy(["a", "a", "a"], 4) == 0.0
    assert speaker_entropy(["a", "b", "c", "d"], 4) == pytest.approx(1.0)
    assert speaker_entropy(["a", "b"], 4) == pytest.approx(0.5)
    assert speaker_entropy([], 4) == 0.0


def test_check_metrics_by_hand():
    rows = []
    for c, (before, after) in {"c0": (0.0, 1.0), "c1": (1.0, 2.0), "c2": (0.5, 1.5)}.items():
        # before: one directive of two went to the fallback after 3 samples, the other took 1; after: one retry
        for policy, rm, invalid, samples in (("before", before, 1, 4), ("after", after, 0, 3)):
            speakers = "the_anchor,the_anchor" if (c, policy) == ("c0", "after") else "the_anchor,the_catalyst"
            rows.append({"context_id": c, "dataset": "empathetic_dialogues", "domain": "negative", "sample_idx": 0,
                         "policy": policy, "transcript": "t", "speakers": speakers, "turns": 2,
                         "directives": 2, "invalid_directives": invalid, "ended_by_director": False,
                         "directives_raw": "[]", "instructions": json.dumps(["Ask.", "Ask." if policy == "after" else "Plan."]),
                         "director_samples": samples, "group_rm": rm,
                         "redundancy": 0.5 if policy == "before" else 0.25})  # fmt: skip
    table = validate(pl.DataFrame(rows), DIRECTOR_CHECK)
    check = profile_config("tiny").grpo_director.check
    m = director_check_metrics(table, {"empathetic_dialogues": ["the_anchor", "the_catalyst", "the_beacon"]}, check)
    assert (m["group_rm_before"], m["group_rm_after"], m["group_rm_gain"]) == (0.5, 1.5, 1.0)
    assert m["group_rm_gain_ci_low"] == m["group_rm_gain_ci_high"] == 1.0  # every context gained exactly 1
    assert (m["invalid_directive_rate_before"], m["invalid_directive_rate_after"]) == (0.5, 0.0)
    assert (m["refused_sample_rate_before"], m["refused_sample_rate_after"]) == (0.75, round(1 / 3, 4))
    assert m["redundancy_gain"] == -0.25 and m["check_blocks"] == 3
    # who spoke: a silent companion shows as a 0 share, and the group's size sets the entropy's scale
    assert m["speaker_share_before"] == {"the_anchor": 0.5, "the_beacon": 0.0, "the_catalyst": 0.5}
    assert m["speaker_share_after"]["the_anchor"] == round(4 / 6, 4) and m["speaker_share_min_after"] == 0.0
    assert m["speaker_entropy_before"] == pytest.approx(round(math.log(2) / math.log(3), 4))
    # 2 distinct instructions of 6 before, 1 of 6 after (one instruction for every turn)
    assert (m["instruction_distinct_before"], m["instruction_distinct_after"]) == (round(2 / 6, 4), round(1 / 6, 4))


# --------------------------------------------------------------------------- the warm start


def candidates(personas=PAIR):
    return pl.DataFrame(
        [{"context_id": f"c{i}", "persona": p, "response": f"{p} says something about part {i}."}
         for i in range(4) for p in personas]
    )  # fmt: skip


def test_the_teacher_names_every_silent_persona_of_a_state_once_with_a_rule_from_its_card(tiny_model):
    from mascot.chat.engine import GroupEngine, engine_settings
    from mascot.llm import get_backend

    cfg = tiny_cfg(tiny_model)
    cfg.conversation.max_turns = 3
    engine = GroupEngine(get_backend("transformers")(tiny_model, device="cpu"), CARDS,
                         Prompts(REPO / "configs/prompts"), engine_settings(cfg.conversation))  # fmt: skip
    trio = [*PAIR, "the_beacon"]
    rows = teacher_examples(contexts(), candidates(trio), engine, {"empathetic_dialogues": trio}, 3, 0.5, seed=0)
    # 4 contexts × 3 variants × (3 silent before anyone spoke + 2 after one turn + 1 after two: END or the last)
    assert len(rows) == 4 * 3 * (3 + 2 + 1)
    ends, named = 0, {}
    for row in rows:
        state, target = row["state"], row["completion"][0]["content"]
        directive = engine.resolve_directive(state, target)
        assert directive.valid, target
        assert row["prompt"] == engine.director_messages(state)
        if directive.ends:
            ends += 1
            assert state.turns_this_reply() >= 2
        else:
            assert state.spoken_this_reply()[directive.speaker] == 0  # nobody is asked to speak twice
            assert directive.instruction in CARDS.get(directive.speaker).rules
            named.setdefault(id(state), (state, []))[1].append(directive.speaker)
    assert 0 < ends < 12  # the 12 states after two turns end at about the rate, the others never
    # no favourite drawn by chance: a state that names anyone names each silent persona exactly once
    for state, speakers in named.values():
        assert sorted(speakers) == sorted(p for p, n in state.spoken_this_reply().items() if n == 0)
    again = teacher_examples(contexts(), candidates(trio), engine, {"empathetic_dialogues": trio}, 3, 0.5, seed=0)
    assert [r["completion"] for r in again] == [r["completion"] for r in rows]


def test_a_persona_name_that_starts_unlike_the_rest_of_its_group_is_pointed_out(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    # the director writes " <name>": three names start with " the", one with " action"
    odd = odd_first_tokens(tokenizer, ["the_anchor", "the_catalyst", "the_beacon", "action_guide"])
    assert list(odd) == ["action_guide"] and " action_guide".startswith(odd["action_guide"])
    assert odd_first_tokens(tokenizer, ["the_anchor", "the_catalyst", "the_beacon", "the_action_guide"]) == {}
    assert odd_first_tokens(tokenizer, ["anchor", "catalyst"]) == {}  # no common start to be unlike


@pytest.fixture(scope="module")
def warm(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("director_sft")
    cfg = tiny_cfg(tiny_model)
    cfg.director_sft.max_steps, cfg.director_sft.eval_fraction = 2, 0.3
    metrics = train_director_sft(tiny_model, None, contexts(), candidates(), CARDS, cfg, root / "warm", root / "p")
    return metrics, root / "warm"


def test_the_warm_start_trains_an_adapter_and_measures_valid_directives(warm):
    metrics, path = warm
    assert (path / "adapter_config.json").is_file() and metrics["steps"] == 2
    assert metrics["eval_examples"] > 0 and metrics["train_examples"] >= metrics["train_states"] > 0
    held = json.loads((path / WARM_META).read_text())["held_out"]
    assert 0 < len(held) < 4  # the valid-directive rate is measured on contexts the warm start did not train on
    assert 0 <= metrics["eval_valid_rate_before"] <= 1 and 0 <= metrics["eval_valid_rate_after"] <= 1


def test_the_warm_start_stops_before_training_when_a_directive_would_be_cut_off(tiny_model, tmp_path):
    cfg = tiny_cfg(tiny_model)
    # the fixed part of the director's prompt alone is longer than this cap (the latest turn is always kept)
    cfg.conversation.max_prompt_tokens, cfg.director_sft.max_length = 64, 96
    with pytest.raises(ValueError, match=r"teacher examples are longer than director_sft.max_length=96 tokens "
                                         r"\(the longest, \d+ tokens, is a state of context 'c\d'\)"):  # fmt: skip
        train_director_sft(tiny_model, None, contexts(), candidates(), CARDS, cfg, tmp_path / "warm", tmp_path / "p")
    assert not (tmp_path / "warm").exists()  # stopped before training, not after


# --------------------------------------------------------------------------- training and the check


@pytest.fixture(scope="module")
def trained(tiny_model, agents, warm, group_rm, tmp_path_factory):
    root = tmp_path_factory.mktemp("director")
    cfg = tiny_cfg(tiny_model)
    rollouts = pl.DataFrame(
        rollout_rows("c0", 0, [("the_anchor", "That is hard."), ("the_catalyst", "What happened?")])
        + rollout_rows("c1", 0, [("the_catalyst", "Which part?")], end=True)
    )
    metrics = train_director(tiny_model, None, agents, warm[1], group_rm, rollouts, contexts(), CARDS, cfg,
                             root / "director", root / "plots")  # fmt: skip
    return cfg, metrics, root


def test_two_director_grpo_steps_continue_the_warm_adapter_and_change_directives(trained, tiny_model, agents, warm):
    cfg, metrics, root = trained
    assert metrics["steps"] == 2 and metrics["train_states"] == 4 and 0 < metrics["trainable_pct"] < 100
    assert json.loads((root / "director" / "mascot_director.json").read_text())["states"] == 4
    engine = group_engine(tiny_model, None, agents, CARDS, cfg, {WARM: warm[1], DIRECTOR: root / "director"})
    state = DirectorWorld(engine, None, {r["context_id"]: r for r in contexts().iter_rows(named=True)}, CARDS,
                          GROUPS).state("c0", "[]")  # fmt: skip
    messages = [engine.director_messages(state)]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=8)
    base = engine.backend.generate(messages, greedy, [0], adapter=None)[0].text
    before = engine.backend.generate(messages, greedy, [0], adapter=WARM)[0].text
    after = engine.backend.generate(messages, greedy, [0], adapter=DIRECTOR)[0].text
    assert before != after and base != after
    curves = root / "plots" / "plots" / "metrics" / "train"
    for name in (
        "rewards/group_rm/mean.tsv",
        "rewards/directive_format/mean.tsv",
        "director/valid.tsv",
        "rewards/speaker_balance/mean.tsv",
        "director/balanced.tsv",
        "director/end.tsv",
        "completions/mean_length.tsv",
        "kl.tsv",
    ):  # fmt: skip  (kl: β > 0 anchors to the warm start)
        assert (curves / name).is_file(), name


def test_the_check_runs_both_directors_on_the_same_seeds(trained, tiny_model, agents, warm, group_rm):
    cfg, _, root = trained
    cfg.grpo_director.check.samples = 2
    table, metrics = compare_director(
        tiny_model, None, agents, warm[1], root / "director", RewardModel.load(group_rm), contexts(), CARDS, cfg,
        embed=lambda blocks: [0.5 if len(b) > 1 else None for b in blocks],
    )  # fmt: skip
    validate(table, DIRECTOR_CHECK)
    assert metrics["check_blocks"] == 1 * 2  # tiny: 1 held-out context per domain (all here are negative) × 2
    before, after = (table.filter(pl.col("policy") == p) for p in ("before", "after"))
    assert before.select("context_id", "sample_idx").equals(after.select("context_id", "sample_idx"))
    assert {
        "group_rm_gain_ci_low",
        "invalid_directive_rate_after",
        "speaker_entropy_after",
        "redundancy_after",
    } <= metrics.keys()
    assert (table["turns"] <= cfg.conversation.max_turns).all()


def test_the_director_reward_scores_blocks_as_the_group_judge_and_rm_saw_them(world):
    """The group RM is trained on group_label's transcripts and scores the engine's: same text."""
    from mascot.judge.blocks import block_transcripts

    turns = [("the_anchor", "That is hard."), ("the_catalyst", "What happened?")]
    [judged] = block_transcripts(pl.DataFrame(rollout_rows("c0", 0, turns, end=True)), CARDS)["response"]
    prefix = json.dumps([{"speaker": s, "instruction": "i", "text": t} for s, t in turns])
    assert world.state("c0", prefix).reply_transcript() == judged


def test_executing_directives_inside_a_training_step_leaves_the_trainers_random_state_alone(world):
    import torch

    torch.manual_seed(5)
    world.execute(["c0", "c1"], ["[]", "[]"], [VALID, "nonsense"])
    after_rewards = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after_rewards, torch.rand(3))


def test_a_reward_model_of_the_wrong_kind_is_refused(group_rm):
    with pytest.raises(ValueError, match="a group reward model where a persona reward model is needed"):
        RewardModel.load(group_rm, kind="persona")
    assert RewardModel.load(group_rm, kind="group").kind == "group"


def test_an_instruction_counts_as_its_own_when_its_closest_rule_is_the_named_companions():
    from mascot.grpo_director import own_rule_share

    rules = {
        "the_anchor": ["Do not give advice or action plans; leave problem-solving to others in the group."],
        "the_innovator": ["Keep ideas feasible within the constraints the group has stated."],
    }
    speakers = ["the_anchor", "the_anchor", "the_innovator", "the_anchor"]
    instructions = [
        "Do not give advice; leave problem-solving to others.",  # The Anchor's own rule
        "Keep ideas feasible within the constraints.",  # The Innovator's rule handed to The Anchor
        "Keep ideas feasible within the constraints the group has stated.",  # its own
        "Zzz.",  # shares no word with any rule
    ]
    assert own_rule_share(speakers, instructions, rules) == 0.5
