"""float32 against bfloat16 on this CPU, for the three kinds of work the pipeline's stages do with
the offline base model: scoring (a forward pass, as the judge and the reward models do), LoRA
training steps (forward and backward, as SFT, the reward models and GRPO do) and sampling.

    python benchmarks/precision.py [--model models/base] [--record]

and whether the judge agrees with itself across the two: run the label stage again with
`model.dtype: bfloat16` (own outputs and cache), then

    python benchmarks/precision.py --compare-judgments data/judgments.parquet bf16/judgments.parquet \
        data/preference_pairs.parquet bf16/pairs.parquet

bfloat16 runs the matmuls through oneDNN's AVX512-BF16 kernels where the CPU has them
(`grep avx512_bf16 /proc/cpuinfo`); elsewhere it can be slower than float32. Training uses
torch.autocast, as the Trainer does with `bf16: true`: float32 master weights, bf16 matmuls.
On a CPU without AVX512-BF16 or AMX (an AMD EPYC with AVX2 only, for one) torch runs bfloat16
through reference kernels instead (cpublas `bf16_dot_with_fp32_arith`, seen with py-spy): there a
LoRA step of 4 × 384 tokens took over 150 s against 18 s in float32, so float32 stays the default.
`--lora-targets all` puts LoRA on every linear layer, as sft and director_sft train.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mascot.config import PersonaRMConfig, SFTConfig  # noqa: E402 - the targets the stages train

LORA_TARGETS = {"attention": PersonaRMConfig().lora.target_modules, "all": SFTConfig().lora.target_modules}


def timed(fn, repeats: int) -> float:
    fn()  # warm-up: oneDNN builds its kernels on the first call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def judgment_parity(a: str, b: str, pairs_a: str | None = None, pairs_b: str | None = None) -> dict[str, float]:
    """How far two label runs over the same candidates agree (say float32 and bfloat16 judges)."""
    import polars as pl

    keys = ["candidate_id", "judge", "criterion"]
    both = (
        pl.read_parquet(a).select(*keys, "score").join(pl.read_parquet(b).select(*keys, "score"), on=keys, suffix="_b")
    )
    both = both.drop_nulls()
    diff = (both["score"] - both["score_b"]).abs()
    out = {
        "judgments": both.height,
        "pearson": round(both.select(pl.corr("score", "score_b")).item(), 4),
        "spearman": round(both.select(pl.corr("score", "score_b", method="spearman")).item(), 4),
        "mean_abs_diff": round(diff.mean(), 4),
        "max_abs_diff": round(diff.max(), 4),
    }
    if pairs_a and pairs_b:
        pa, pb = (set(pl.read_parquet(p).select("chosen_id", "rejected_id").iter_rows()) for p in (pairs_a, pairs_b))
        out |= {"pairs_a": len(pa), "pairs_b": len(pb), "pairs_shared": len(pa & pb),
                "pairs_flipped": len({(c, r) for r, c in pb} & pa)}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--compare-judgments",
        nargs="+",
        metavar="PARQUET",
        help="instead: compare two label runs (judgments A B [pairs A B]) and print their agreement",
    )
    ap.add_argument(
        "--model", default="models/base", help="a causal LM folder (the base_model stage writes models/base)"
    )
    ap.add_argument("--batch", type=int, default=4, help="sequences per pass")
    ap.add_argument("--tokens", type=int, default=512, help="tokens per sequence (scoring and training)")
    ap.add_argument("--new-tokens", type=int, default=48, help="sampled tokens per sequence")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--lora-targets",
        choices=sorted(LORA_TARGETS),
        default="attention",
        help="LoRA on the attention projections (the reward models) or on every linear layer (sft)",
    )
    ap.add_argument("--record", action="store_true", help="merge the figures into metrics/bench.json under precision.*")
    args = ap.parse_args()
    if args.compare_judgments:
        for key, value in judgment_parity(*args.compare_judgments).items():
            print(f"{key:34} {value}")
        return

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    cpu_bf16 = "avx512_bf16" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else False
    torch.manual_seed(0)
    ids = torch.randint(100, 30000, (args.batch, args.tokens))
    prompt = ids[:, :128]
    figures: dict[str, float] = {"threads": torch.get_num_threads(), "cpu_avx512_bf16": int(cpu_bf16)}
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).eval()
        with torch.inference_mode():
            figures[f"{name}.score_s"] = timed(lambda model=model: model(ids).logits[:, -1].float(), args.repeats)
            figures[f"{name}.sample_tok_s"] = args.batch * args.new_tokens / timed(
                lambda model=model: model.generate(prompt, do_sample=True, max_new_tokens=args.new_tokens,
                                       min_new_tokens=args.new_tokens, pad_token_id=0),
                args.repeats,
            )  # fmt: skip
        # training: float32 weights either way, bf16 through autocast as the Trainer's bf16 flag does
        train = get_peft_model(
            AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32),
            LoraConfig(r=8, lora_alpha=16, target_modules=LORA_TARGETS[args.lora_targets], task_type="CAUSAL_LM"),
        )
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == torch.bfloat16 else nullcontext()

        def step(train=train, cast=cast):
            with cast:
                loss = train(ids, labels=ids).loss
            loss.backward()
            train.zero_grad(set_to_none=True)

        figures[f"{name}.train_step_s"] = timed(step, args.repeats)
        del model, train
    for key in ("score_s", "sample_tok_s", "train_step_s"):
        f32, b16 = figures[f"float32.{key}"], figures[f"bfloat16.{key}"]
        speedup = b16 / f32 if key.endswith("tok_s") else f32 / b16
        figures[f"bfloat16_speedup.{key}"] = round(speedup, 2)
    figures = {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}
    lora_on = "every linear layer" if args.lora_targets == "all" else "the attention projections"
    print(f"{args.batch} × {args.tokens} tokens; {args.new_tokens} sampled tokens per sequence; LoRA on {lora_on}")
    for key, value in figures.items():
        print(f"{key:34} {value}")
    if args.record:
        from bench_record import record

        record("precision" if args.lora_targets == "attention" else "precision_lora_all", figures)


if __name__ == "__main__":
    main()
