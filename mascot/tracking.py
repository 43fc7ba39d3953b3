"""Training curves for `dvc plots`: a Trainer callback that logs to DVCLive by global step.

transformers' own DVCLiveCallback advances DVCLive's step on every log event, so train
and eval points land on made-up x values; here x is the optimizer step, and metrics are
grouped as ``train/<name>`` and ``eval/<name>`` so each curve is one TSV file.
"""

from __future__ import annotations

from pathlib import Path

from transformers import TrainerCallback

SKIP = {"epoch", "total_flos", "train_runtime", "train_samples_per_second", "train_steps_per_second",
        "eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "eval_model_preparation_time"}


class LiveCurves(TrainerCallback):
    def __init__(self, directory: str | Path):
        from dvclive import Live

        # dvcyaml=False: dvc.yaml is ours; save_dvc_exp=False: the stage runs inside dvc repro / exp run
        self.live = Live(dir=str(directory), dvcyaml=False, save_dvc_exp=False, report=None)

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
        self.live.end()
