"""Talking to the trained group through `mascot serve` on the offline default: time to the first
token and to the whole group reply (streamed, one conversation at a time), then requests per
second with 8 conversations at once. Needs a finished `dvc repro` (models/base, sft, agents,
director); starts the server on a free loopback port and stops it at the end.

    python benchmarks/chat.py [--replies 6] [--concurrent 8] [--rounds 2] [--repo .]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

MESSAGES = [
    "I failed my driving test for the third time today.",
    "My best friend is moving abroad next month and I already miss her.",
    "I finally got the promotion I have been working towards for two years!",
    "My exam is tomorrow and I cannot sleep.",
    "My dog has been sick all week and the vet does not know why.",
    "I am starting a new job on Monday and I do not know anyone there.",
    "My sister forgot my birthday again.",
    "I ran my first half marathon this morning.",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(repo: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mascot.cli", "serve", "--repo", str(repo), "--port", str(port), "--max-pending", "64"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "MASCOT_API_KEY": ""},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise SystemExit("mascot serve exited; run it by hand to see why (is `dvc repro` finished?)")
        try:
            urllib.request.urlopen(f"{base}/health", timeout=1)
            return proc, base, time.perf_counter() - t0
        except OSError:
            time.sleep(0.5)


def streamed_reply(client: openai.OpenAI, text: str, seed: int) -> dict:
    t0 = time.perf_counter()
    first = None
    turns = set()
    for chunk in client.chat.completions.create(
        model="mascot-group", messages=[{"role": "user", "content": text}], stream=True, seed=seed
    ):
        delta = chunk.choices[0].delta
        if delta.content:
            first = first or time.perf_counter() - t0
            turns.add(delta.model_extra["mascot"]["turn"])
    return {"ttft": first, "total": time.perf_counter() - t0, "turns": len(turns)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=".", help="the repository with the pipeline's outputs")
    ap.add_argument("--replies", type=int, default=6, help="streamed replies timed one at a time")
    ap.add_argument("--concurrent", type=int, default=8, help="conversations at once for the throughput figure")
    ap.add_argument("--rounds", type=int, default=2, help="requests per concurrent conversation")
    args = ap.parse_args()

    proc, base, load_s = start(Path(args.repo))
    try:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=1800)
        streamed_reply(client, "Hello.", seed=99)  # warm-up: first-call allocations
        single = [streamed_reply(client, MESSAGES[i % len(MESSAGES)], seed=i) for i in range(args.replies)]

        def conversation(i: int) -> int:
            messages = [{"role": "user", "content": MESSAGES[i % len(MESSAGES)]}]
            for _round in range(args.rounds):
                reply = client.chat.completions.create(model="mascot-group", messages=messages, seed=i)
                messages += [{"role": "assistant", "content": reply.choices[0].message.content},
                             {"role": "user", "content": "Thank you. What would you do first?"}]  # fmt: skip
            return args.rounds

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrent) as pool:
            done = sum(pool.map(conversation, range(args.concurrent)))
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps({
        "server_load_s": round(load_s, 1),
        "ttft_s_median": round(statistics.median(r["ttft"] for r in single), 2),
        "reply_s_median": round(statistics.median(r["total"] for r in single), 2),
        "reply_s_max": round(max(r["total"] for r in single), 2),
        "turns_per_reply_mean": round(statistics.mean(r["turns"] for r in single), 2),
        "concurrent_conversations": args.concurrent, "requests": done, "wall_s": round(wall, 1),
        "requests_per_s": round(done / wall, 3),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
