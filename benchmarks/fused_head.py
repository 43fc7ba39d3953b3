"""TRL's fused LM head on the CPU, as TRL ships it against `mascot.tracking.score_labelled_positions_only`:
seconds per LoRA training step (forward and backward through SFTTrainer's fused head) of a batch shaped
like director_sft's (4 sequences of 340 tokens, the last 30 of each labelled, the rest prompt), and the
loss each gives (the same, or the fix would be changing what is trained).

    python benchmarks/fused_head.py [--model models/base] [--repeats 3] [--record]

Each path runs in its own process: the fix patches TRL for the process it is applied in.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def one_path(model_dir: str, compact: bool, repeats: int, batch: int, length: int, labelled: int) -> dict:
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from mascot.config import DirectorSFTConfig
    from mascot.tracking import lora_config, score_labelled_positions_only

    if compact:
        score_labelled_positions_only()
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))  # what SFTTrainer asks for
    model = get_peft_model(model, lora_config(DirectorSFTConfig().lora, "CAUSAL_LM", model))
    torch.manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (batch, length))
    labels = ids.clone()
    labels[:, : length - labelled] = -100

    def step() -> float:
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, fused_lm_head=True)
        out.loss.backward()
        model.zero_grad()
        return out.loss.item()

    loss = step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"seconds_per_step": round(statistics.median(times), 2), "loss": round(loss, 5)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models/base"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--length", type=int, default=340)
    ap.add_argument("--labelled", type=int, default=30)
    ap.add_argument("--record", action="store_true", help="merge the figures into metrics/bench.json")
    ap.add_argument("--path", choices=["trl", "fix"], help=argparse.SUPPRESS)  # one path, in a child process
    a = ap.parse_args()
    shape = (a.repeats, a.batch, a.length, a.labelled)
    if a.path:
        print(json.dumps(one_path(a.model, a.path == "fix", *shape)))
        return
    figures = {}
    for path in ("trl", "fix"):
        cmd = [sys.executable, __file__, "--model", a.model, "--path", path, "--repeats", str(a.repeats),
               "--batch", str(a.batch), "--length", str(a.length), "--labelled", str(a.labelled)]  # fmt: skip
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        for key, value in json.loads(out).items():
            figures[f"{path}.{key}"] = value
    figures["speedup"] = round(figures["trl.seconds_per_step"] / figures["fix.seconds_per_step"], 2)
    figures |= {"batch": a.batch, "length": a.length, "labelled": a.labelled}
    for key, value in figures.items():
        print(f"{key:24s} {value}")
    if a.record:
        from bench_record import record

        print("recorded in", record("fused_head", figures))


if __name__ == "__main__":
    main()
