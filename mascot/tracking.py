"""What every training stage shares: the common Trainer arguments, the LoRA config, the GRPO
stages' TRL arguments, TRL's LM head scoring only the labelled positions on the CPU, and training curves for `dvc plots` (a callback that logs to DVCLive by
global step).

transformers' own DVCLiveCallback advances DVCLive's step on every log event, so train
and eval points land on made-up x values; here x is the optimizer step, and metrics are
grouped as ``train/<name>`` and ``eval/<name>`` so each curve is one TSV file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dvclive import Live
from scmrepo.exceptions import SCMError
from transformers import TrainerCallback

from mascot.config import GRPOTrainConfig

SKIP = {
    "epoch",
    "total_flos",
    "train_runtime",
    "train_samples_per_second",
    "train_steps_per_second",
    "eval_runtime",
    "eval_samples_per_second",
    "eval_steps_per_second",
    "eval_model_preparation_time",
}


class _Live(Live):
    """DVCLive in a git repo without a commit yet (`git init`, `dvc init`, `dvc repro`): DVCLive 3.49
    asks git for HEAD and fails on the empty repo (it only catches DVC's own errors). The curves are
    files either way; only the link to a baseline commit, which a stage never uses, is skipped."""

    def _init_dvc(self):
        try:
            super()._init_dvc()
        except SCMError:
            self._dvc_repo = None


class LiveCurves(TrainerCallback):
    def __init__(self, directory: str | Path):
        self.directory, self._live = Path(directory), None

    @property
    def live(self):
        # opened on first use, which only the main process reaches: under `accelerate launch`,
        # every process opening the same folder would race on its files
        if self._live is None:
            # dvcyaml=False: dvc.yaml is ours; save_dvc_exp=False: the stage runs inside dvc repro / exp run
            self._live = _Live(dir=str(self.directory), dvcyaml=False, save_dvc_exp=False, report=None)
        return self._live

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        self.live.step = state.global_step
        for key, value in logs.items():
            if key in SKIP or not isinstance(value, (int, float)):
                continue
            name = f"eval/{key.removeprefix('eval_')}" if key.startswith("eval_") else f"train/{key}"
            self.live.log_metric(name, value, plot=True)
        self.live.make_summary()

    def on_train_end(self, args, state, control, **kwargs):
        if self._live is not None:
            self._live.end()


def score_labelled_positions_only() -> None:
    """Let TRL's fused LM head project only the labelled positions (the completion) on the CPU.

    TRL projects only those on Triton devices but every position elsewhere, so that compilers such
    as Neuron's see one tile shape; the CPU compiles nothing, and there the prompt's positions were
    half of an SFT step (4 × 340 tokens, 30 labelled: 11.0 s against 5.7 s on the AVX2 EPYC). The
    loss and its gradients are the same: the skipped rows are the ones TRL masks to zero."""
    import trl.trainer.utils as trl_utils

    use_triton = trl_utils._use_triton
    if getattr(use_triton, "mascot_cpu", False):
        return

    def compact_on_cpu(device) -> bool:
        return device.type == "cpu" or use_triton(device)

    compact_on_cpu.mascot_cpu = True  # type: ignore[attr-defined]
    trl_utils._use_triton = compact_on_cpu


def trainer_args(cfg: Any, output_dir: str, has_eval: bool, logging_steps: int | None = None) -> dict[str, Any]:
    """Trainer arguments every stage sets the same way from its typed config (steps, batch,
    optimiser, evaluation, seeds, device); checkpoints off, since a stage's DVC out is its model.
    Every TRL trainer is built from these, so this is where the CPU head fix is applied."""
    score_labelled_positions_only()
    return {
        "output_dir": output_dir,
        "max_steps": cfg.max_steps,
        "per_device_train_batch_size": cfg.batch_size,
        "per_device_eval_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "learning_rate": cfg.learning_rate,
        "lr_scheduler_type": "linear",
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": cfg.eval_steps if has_eval else None,
        "logging_steps": logging_steps or max(1, min(cfg.eval_steps, 5)),
        "save_strategy": "no",
        "report_to": "none",
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        "use_cpu": cfg.use_cpu,
        "bf16": cfg.bf16,
        "dataloader_num_workers": 0,
        "disable_tqdm": False,  # the Trainer's bar: steps done, rate and time left
        # TRL's configs turn it on by default; a stage turns it on only where its params say so
        "activation_checkpointing": getattr(cfg, "gradient_checkpointing", False),
    }


def lora_config(cfg: Any, task_type: str, model: Any, **extra: Any):
    """peft's LoraConfig from ours; ``model`` (what the adapter goes on) gives the layer count for ``top_layers``."""
    from peft import LoraConfig

    if cfg.top_layers is not None:
        n = model.config.num_hidden_layers
        extra["layers_to_transform"] = list(range(max(0, n - cfg.top_layers), n))
    return LoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=cfg.target_modules,
        task_type=task_type,
        **extra,
    )


def grpo_args(g: GRPOTrainConfig, output_dir: str, reward_names: Sequence[str], max_completion_length: int) -> Any:
    """TRL's GRPOConfig from a GRPO stage's params; ``reward_names`` order the reward weights."""
    from trl import GRPOConfig

    vllm = {}
    if g.use_vllm:
        vllm = {
            "use_vllm": True,
            "vllm_mode": g.vllm_mode,
            "vllm_gpu_memory_utilization": g.vllm_gpu_memory_utilization,
        }
        if g.vllm_server_base_url:
            vllm["vllm_server_base_url"] = g.vllm_server_base_url
    return GRPOConfig(
        **trainer_args(g, output_dir, has_eval=False, logging_steps=g.logging_steps),
        num_generations=g.num_generations,
        max_completion_length=max_completion_length,
        temperature=g.temperature,
        top_p=g.top_p,
        top_k=0,
        beta=g.beta,
        loss_type=g.loss_type,
        scale_rewards=g.scale_rewards,
        reward_weights=[g.reward_weights.get(name, 1.0) for name in reward_names],
        log_completions=False,
        **vllm,
    )
