"""Shared fixtures: a tiny random chat model built here, the real data folder, the repo root."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker per core: a worker (and the stages it starts) taking every core
    # would oversubscribe them, and OpenMP's spin-waits then cost several times the work itself.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
# `make test` hands whole files to its workers in collection order: the longest start first, so none
# of them starts last and runs on alone (the rest keep their order)
LONGEST_FIRST = ("test_pipeline.py", "test_kill_resume.py", "test_judge_http.py", "test_reward_model.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


# what a DVC repo of this pipeline needs: code, dvc.yaml, configs and the offline sample
PIPELINE_FILES = ["dvc.yaml", ".dvcignore", ".gitignore", "pipeline", "mascot", "configs", "data/sample"]


def command_env(**extra: str) -> dict[str, str]:
    """The environment a pipeline command runs in: this interpreter's dvc first on PATH, no analytics."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", DVC_NO_ANALYTICS="1", **extra)


def tiny_params(model: Path, profile: str = "tiny"):
    """A profile's params with ``model`` as the base model of every stage and judge."""
    from mascot.config import profile_config

    cfg = profile_config(profile)
    cfg.model.base = str(model)
    for judge in (*cfg.label.judges, *cfg.group_label.judges, *cfg.evaluate.judges):
        judge.min_digit_mass = 0.0  # a random 600-token model spreads its mass thin
    return cfg


def store_lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def kill_mid_run(cmd: list[str], store: Path, min_lines: int, timeout: float = 300) -> int:
    """Start a stage, SIGKILL it once its store holds ``min_lines`` records; the lines it kept."""
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline and store_lines(store) < min_lines:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the stage finished before the kill"
    return store_lines(store)


def copy_pipeline(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for item in PIPELINE_FILES:
        src, dst = REPO / item, dest / item
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    return dest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it sits beside the repo on dev and CI machines)")
    return SHARED_DATA


def build_tiny_model(out: Path, seed: int = 0) -> Path:
    """A 2-layer Llama with a byte-level BPE tokenizer trained on the persona cards
    and sample data: real architecture and chat template, random weights, seconds to build."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    corpus = [p.read_text(encoding="utf-8") for p in sorted((REPO / "configs").rglob("*.*"))]
    corpus += [p.read_text(encoding="utf-8") for p in sorted((REPO / "data" / "sample").rglob("*.csv"))]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=600, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHATML
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        initializer_range=0.5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_tiny_rm(base: Path, out: Path, **meta) -> Path:
    """A reward-model folder on a tiny base: random scalar head, the given ``mascot_rm.json``."""
    from mascot.stand_ins import write_untrained_reward_model

    return write_untrained_reward_model(base, out, {"prompts_dir": str(REPO / "configs/prompts"), **meta})


def tiny_lora(modules=("q_proj", "v_proj")):
    from mascot.config import LoraConfig

    return LoraConfig(r=4, alpha=8, dropout=0.0, target_modules=list(modules))


def build_tiny_agents(base: Path, out: Path, personas: list[str]) -> Path:
    """A shared agents' adapter on a tiny base: a LoRA with random (non-zero) weights, so it changes replies."""
    from mascot.stand_ins import write_untrained_agents

    return write_untrained_agents(base, out, personas, tiny_lora(), seed=1, random_weights=True)


@pytest.fixture(scope="module")
def one_thread():
    """For modules that train tiny models: a 32-wide model has nothing to parallelise, and with two
    threads every tiny op ends in a barrier that spins whenever other jobs share the cores (10x
    slower on a busy 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_llama_server(log_dir: Path, *extra: str, aliases: Sequence[str] = ()):
    """Base URL (no /v1) of a llama.cpp server on the offline SmolLM2 GGUF, started as in
    tests/test_openai_backend.py except:
    - with ``aliases`` it serves the GGUF under each of those model names (a config file: the
      server then takes no other command-line settings), as vLLM serves LoRA modules by name;
    - its log goes to a file: the server logs timings on stderr for every request, and an
      unread PIPE fills up after a few dozen requests and blocks the server mid-request;
    - one thread: on a busy 2-core machine ggml's multi-threaded prompt eval of a 33-token
      prompt swings from 0.15 s to 10 s (threads spinning at barriers); one thread stays ~0.15 s."""
    from mascot.llm.base_model import offline_gguf

    folder, name = offline_gguf()
    port = free_port()
    log_path = log_dir / "stderr.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed at teardown
    model = {"model": f"{folder}/{name}", "n_ctx": 2048, "seed": 0, "n_threads": 1, "n_threads_batch": 1}
    args = [
        "--model",
        model["model"],
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--interrupt_requests",
        "false",
        "--seed",
        "0",
        "--n_threads",
        "1",
        "--n_threads_batch",
        "1",
        *extra,
    ]
    if aliases:
        config = {
            "host": "127.0.0.1",
            "port": port,
            "interrupt_requests": False,
            "models": [{**model, "model_alias": alias} for alias in aliases],
        }
        (log_dir / "config.json").write_text(json.dumps(config))
        args = ["--config_file", str(log_dir / "config.json")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", *args], stdout=subprocess.DEVNULL, stderr=log
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    try:
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                urllib.request.urlopen(f"{base}/v1/models", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # up, and asking for a key
            except OSError:
                time.sleep(0.25)
        else:
            pytest.fail("llama.cpp server did not come up within 90 s")
        check_build_once(base, Path(folder) / name, aliases[0] if aliases else "smollm2", option(extra, "--api_key"))
        yield base
    finally:
        stop_server(proc)
        log.close()


_BUILD_VERDICT: list[str] = []  # this process's verdict on the llama.cpp build: "" when sound, else why not


def check_build_once(base: str, gguf: Path, model: str, api_key: str | None) -> None:
    """Fail every test that needs the llama.cpp server with one message when its build computes wrong tokens
    on this CPU (tests/llama_build.py); the comparison runs once per test process."""
    from .llama_build import BrokenLlamaBuild, check_llama_build

    if not _BUILD_VERDICT:
        try:
            check_llama_build(base, gguf, model, api_key)
            _BUILD_VERDICT.append("")
        except BrokenLlamaBuild as broken:
            _BUILD_VERDICT.append(str(broken))
    if _BUILD_VERDICT[0]:
        pytest.fail(_BUILD_VERDICT[0], pytrace=False)


def option(args: Sequence[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    with running_llama_server(tmp_path_factory.mktemp("llama_server")) as base:
        yield base


def build_tiny_adapter(base: Path, out: Path, seed: int, modules=("q_proj", "v_proj")) -> Path:
    """A LoRA adapter folder on a tiny base with random (non-zero) weights."""
    from mascot.stand_ins import write_untrained_adapter

    return write_untrained_adapter(base, out, tiny_lora(modules), seed, random_weights=True)


def build_tiny_group(root: Path, **conversation) -> Path:
    """A folder shaped like a finished pipeline run on tiny models: params.yaml (cards and prompts
    from this repo), models/base, models/sft, models/agents, models/director."""
    import yaml

    from mascot.config import dump_params, profile_config

    raw = yaml.safe_load(dump_params(profile_config("default")))
    raw["prompts_dir"] = str(REPO / "configs/prompts")
    raw["personas"]["dir"] = str(REPO / "configs/personas")
    raw["model"]["device"] = "cpu"
    raw["conversation"].update(
        # one draft: a random model's drafts all fail the reply check, and streaming is shown token by token
        {
            "agent_max_new_tokens": 12,
            "agent_min_new_tokens": 2,
            "director_max_new_tokens": 16,
            "agent_attempts": 1,
            **conversation,
        }
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    base = build_tiny_model(root / "models/base")
    build_tiny_adapter(base, root / "models/sft", seed=2)
    personas = [p for ds in raw["ingest"]["datasets"] for p in raw["personas"][ds]]
    build_tiny_agents(base, root / "models/agents", personas)
    build_tiny_adapter(base, root / "models/director", seed=3, modules=("q_proj", "k_proj", "v_proj", "o_proj"))
    return root


@pytest.fixture(scope="session")
def tiny_group(tmp_path_factory) -> Path:
    return build_tiny_group(tmp_path_factory.mktemp("tiny_group"))


def start_server(args: list[str], env: dict | None = None, timeout: float = 120):
    """A ``mascot serve`` subprocess on a free loopback port; returns (process, base URL, log path)."""
    import tempfile

    port = free_port()
    log_path = Path(tempfile.mkstemp(suffix=".log", prefix="mascot-serve-")[1])
    log = open(log_path, "wb")  # noqa: SIM115 - the process owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "mascot.cli", "serve", "--port", str(port), *args],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mascot serve exited: {log_path.read_text(errors='replace')[-3000:]}")
        try:
            urllib.request.urlopen(f"{base}/health", timeout=1)
            return proc, base, log_path
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError(
        f"mascot serve did not come up within {timeout} s: {log_path.read_text(errors='replace')[-3000:]}"
    )


def stop_server(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def group_server(tiny_group):
    """Base URL of ``mascot serve`` on the tiny group (loopback, no key)."""
    proc, base, _ = start_server(["--repo", str(tiny_group)], env={"MASCOT_API_KEY": ""})
    yield base
    stop_server(proc)


ARTIFACTS = REPO / "build" / "test-artifacts"  # screenshots a person looks at after the tests


def require_chromium() -> tuple[str, str]:
    """Debian's chromium and chromedriver; skipped where absent, except in CI (MASCOT_REQUIRE_BROWSER)."""
    import shutil

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        message = "Debian's chromium and chromium-driver are not installed (make setup-test installs them as root)"
        if os.environ.get("MASCOT_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return chromium, driver


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium on a phone-sized screen, driven by selenium (nothing downloaded)."""
    chromium, driver = require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    # a phone's screen (a desktop window cannot shrink below ~500 px)
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}}
    )
    web = webdriver.Chrome(service=Service(driver), options=options)
    yield web
    web.quit()
