"""Real DVC in a temporary git repo: the tiny profile reproduces end to end, a second repro
runs nothing, and editing one persona card re-runs candidates and nothing upstream. Every command
runs with an API key in its environment, which the group judge (a real llama.cpp server that
refuses requests without it) needs, and which must then be found nowhere in the repo or the logs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from mascot.agents import Agents
from mascot.config import JudgeConfig, OpenAIEndpoint, dump_params, profile_config
from mascot.lock_status import lock_problems
from mascot.schemas import (
    AGENTS_CHECK,
    CANDIDATES,
    CONTEXTS,
    DIRECTOR_CHECK,
    EVAL_REPLIES,
    HUMAN_EVAL_KEY,
    JUDGMENTS,
    MBTI_CONVERSATIONS,
    ROLLOUTS,
    preference_pairs_schema,
    read_table,
)

from .conftest import REPO, command_env, copy_pipeline, free_port, running_llama_server, tiny_params

STAGE1 = ["base_model", "ingest", "sft", "candidates", "label", "persona_rm", "grpo_agents"]
STAGE2 = ["director_sft", "rollouts", "group_label", "group_rm", "grpo_director"]
EVALUATION = ["evaluate", "mbti", "report"]
STAGES = STAGE1 + STAGE2 + EVALUATION
SECRET = "sk-mascot-7f3a9c2e-never-written"
LOGS: list[str] = []  # everything every command printed, searched for the key at the end


def run(cmd: list[str], cwd: Path, extra_env: dict | None = None) -> str:
    env = command_env(MASCOT_JUDGE_KEY=SECRET, **(extra_env or {}))
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    LOGS.append(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc.stdout + proc.stderr


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", output)


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    """SmolLM2 behind llama.cpp's server, which answers only requests carrying SECRET."""
    with running_llama_server(tmp_path_factory.mktemp("keyed_server"), "--api_key", SECRET) as base:
        yield base


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_model, keyed_server) -> Path:
    root = copy_pipeline(tmp_path_factory.mktemp("pipeline") / "repo")
    cfg = tiny_params(tiny_model)
    endpoint = OpenAIEndpoint(base_url=f"{keyed_server}/v1", model="smollm2", api_key_env="MASCOT_JUDGE_KEY",
                              max_concurrency=1)  # fmt: skip
    cfg.group_label.judges = [JudgeConfig(name="smollm2", backend="openai", min_digit_mass=0.0, endpoint=endpoint)]
    # SmolLM2 on one CPU thread reads each block in ~1 s: the shipped group rubric's first criterion
    # (role fidelity) alone keeps the test's calls few; every criterion is judged in tests/test_rollouts.py
    rubric = yaml.safe_load((REPO / "configs/rubrics/group.yaml").read_text(encoding="utf-8"))
    rubric["criteria"] = rubric["criteria"][:1]
    (root / "configs/rubrics/group_fidelity.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False), encoding="utf-8")
    cfg.group_label.rubric = "configs/rubrics/group_fidelity.yaml"
    (root / "params.yaml").write_text(dump_params(cfg))
    run(["git", "init", "-q"], root)  # no commit yet: a user's first `dvc repro` comes before one
    run(["dvc", "init", "-q"], root)
    shutil.copytree(REPO / ".dvc/plots", root / ".dvc/plots")  # the heatmap's plot template
    return root


def test_repro_tiny_profile_end_to_end(repo):
    out = run(["dvc", "repro"], repo)
    assert sorted(stages_run(out)) == sorted(STAGES)
    contexts = read_table(repo / "data/contexts.parquet", CONTEXTS)
    assert set(contexts["domain"]) == {"positive", "negative", "neutral", "academic", "committee", "product"}
    candidates = read_table(repo / "data/candidates.parquet", CANDIDATES)
    # tiny profile: 1 context per (dataset, domain), 4 personas each, k = 2
    assert candidates.height == 6 * 4 * 2
    personas = candidates.join(contexts, on="context_id").group_by("dataset").agg(pl.col("persona").unique().sort())
    by_dataset = {r["dataset"]: r["persona"] for r in personas.iter_rows(named=True)}
    assert by_dataset["empathetic_dialogues"] == ["the_action_guide", "the_anchor", "the_beacon", "the_catalyst"]
    assert by_dataset["qmsum"] == ["the_analyst", "the_facilitator", "the_implementer", "the_innovator"]
    assert candidates["prompt"].str.contains("<|im_start|>assistant", literal=True).all()
    for name in STAGE1 + STAGE2:
        assert (repo / "metrics" / f"{name}.json").exists()
    judgments = read_table(repo / "data/judgments.parquet", JUDGMENTS)
    assert judgments.height == candidates.height * 5 and (judgments["status"] == "ok").all()
    pairs = read_table(repo / "data/preference_pairs.parquet", preference_pairs_schema(0.01))
    assert pairs.height > 0
    assert (repo / "models/sft/adapter_config.json").exists()
    assert "metrics/sft.json" in run(["dvc", "metrics", "show"], repo)
    # training curves by optimizer step: eval before the first step and after the last
    eval_loss = pl.read_csv(repo / "plots/sft/plots/metrics/eval/loss.tsv", separator="\t")
    assert eval_loss["step"].to_list() == [0, 1, 2]
    assert (repo / "plots/sft/plots/metrics/train/loss.tsv").exists()
    # the reward model GRPO reads, and the agents with their before/after check
    assert json.loads((repo / "models/persona_rm/mascot_rm.json").read_text())["reward_std"] > 0
    assert Agents.load(repo / "models/agents").adapters.keys() == {
        *by_dataset["empathetic_dialogues"],
        *by_dataset["qmsum"],
    }
    check = read_table(repo / "data/agents_check.parquet", AGENTS_CHECK)
    grpo = json.loads((repo / "metrics/grpo_agents.json").read_text())
    assert check.height == 2 * grpo["check_replies"] == 2 * 6 * 4  # tiny: 1 held-out context per domain, 1 sample
    assert {"persona_rm_gain_ci_low", "format_pass_rate_after", "trainable_pct"} <= grpo.keys()
    assert (repo / "plots/grpo_agents/shared/plots/metrics/train/rewards/format/mean.tsv").exists()
    # Stage 2: warm director → blocks by the director and agents → judged block pairs → group RM → GRPO director
    assert (repo / "models/director_sft/adapter_config.json").exists()
    rollouts = read_table(repo / "data/rollouts.parquet", ROLLOUTS)
    assert rollouts["block_id"].n_unique() == 6 * 2  # tiny: 1 train context per domain × 2 samples
    group_judgments = read_table(repo / "data/group_judgments.parquet", JUDGMENTS)
    assert (group_judgments["status"] == "ok").all() and (group_judgments["judge"] == "smollm2").all()  # key accepted
    group_pairs = read_table(repo / "data/group_pairs.parquet", preference_pairs_schema(0.01))
    assert group_pairs.height > 0 and (group_pairs["persona"] == "group").all()
    assert json.loads((repo / "models/group_rm/mascot_rm.json").read_text())["kind"] == "group"
    assert (repo / "models/director/adapter_config.json").exists()
    director = json.loads((repo / "metrics/grpo_director.json").read_text())
    assert {
        "group_rm_gain",
        "invalid_directive_rate_after",
        "speaker_entropy_after",
        "redundancy_after",
    } <= director.keys()
    assert (
        read_table(repo / "data/director_check.parquet", DIRECTOR_CHECK).height == 2 * director["check_blocks"] == 2 * 6
    )
    assert (repo / "plots/grpo_director/plots/metrics/train/rewards/group_rm/mean.tsv").exists()
    # evaluation: every system × 6 held-out contexts × 1 sample, judged and measured per split
    replies = read_table(repo / "data/eval_replies.parquet", EVAL_REPLIES)
    per_system = dict(replies.group_by("system").agg(pl.col("block_id").n_unique()).iter_rows())
    assert per_system == dict.fromkeys(profile_config("tiny").evaluate.systems, 6)
    ev = json.loads((repo / "metrics/eval.json").read_text())
    assert {"negative.mascot.agent.overall", "qmsum.single.collective.overall", "product.few_shot_cot.auto.ead_2",
            "empathetic_dialogues.mascot_vs_best.agent.gain"} <= ev.keys()  # fmt: skip
    assert (read_table(repo / "data/eval_judgments.parquet", JUDGMENTS)["status"] == "ok").all()
    report = (repo / "reports/eval.md").read_text()
    assert "## Agent-specific metrics — negative (0–100)" in report and "## Sample conversations" in report
    assert (repo / "reports/eval.html").read_text().count("<table>") >= 10
    bars = pl.read_csv(repo / "plots/eval/agent_empathetic_dialogues.csv")
    assert sorted(bars["system"]) == sorted(per_system) and bars["overall"].is_between(0, 100).all()
    # MBTI study: 2 simulated types (tiny) × 3 held-out EmpatheticDialogues contexts, a heatmap and its table
    conversations = read_table(repo / "data/mbti_conversations.parquet", MBTI_CONVERSATIONS)
    assert conversations.select("type", "context_id").n_unique() == 2 * 3
    mbti = json.loads((repo / "metrics/mbti.json").read_text())
    assert mbti["types"] == 2 and {"INTJ.overall", "ESFP.overall", "types_spread.overall"} <= mbti.keys()
    heat = pl.read_csv(repo / "plots/mbti/heatmap.csv")
    assert heat.columns == ["type", "agent", "overall", "turns"] and set(heat["type"]) == {"INTJ", "ESFP"}
    assert "## MBTI study — agent × simulated user type (0–100)" in report
    shown = run(["dvc", "plots", "show", "--json"], repo)
    assert "MBTI study" in shown and "heatmap.csv" in shown
    # the blinded human-evaluation sheet: every tiny system's reply to 2 contexts, and its key
    sheet = pl.read_csv(repo / "reports/human_eval/sheet.csv")
    key = read_table(repo / "data/human_eval_key.parquet", HUMAN_EVAL_KEY)
    assert sheet.height == key.height == 2 * len(per_system) and set(key["system"]) == set(per_system)
    assert "fidelity" in sheet.columns and (repo / "reports/human_eval/instructions.md").exists()


def test_second_repro_runs_nothing(repo):
    out = run(["dvc", "repro"], repo)
    assert stages_run(out) == [], out
    assert "up to date" in run(["dvc", "status"], repo)


def test_a_changed_evaluation_param_reruns_evaluation_and_report_and_metrics_diff_shows_it(repo):
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    run(["git", "add", "-A"], repo)
    run([*git, "commit", "-q", "-m", "tiny pipeline"], repo)
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("\n  confidence: 0.95\n", "\n  confidence: 0.8\n"))  # evaluate's
    out = run(["dvc", "repro"], repo)
    assert stages_run(out) == ["evaluate", "report"], out  # replies and judgments come from the stores
    diff = json.loads(run(["dvc", "metrics", "diff", "HEAD", "--json"], repo).splitlines()[-1])
    assert diff["metrics/eval.json"]["confidence"] == {"old": 0.95, "new": 0.8, "diff": pytest.approx(-0.15)}
    run(["git", "add", "-A"], repo)
    run([*git, "commit", "-q", "-m", "80% intervals"], repo)


def clone_and_pull(repo: Path, dest: Path, remote: str, env: dict | None = None) -> str:
    run(["git", "clone", "-q", str(repo), str(dest)], dest.parent)
    return run(["dvc", "pull", "-r", remote], dest, env)


def test_push_and_pull_through_directory_and_s3_remotes_share_every_artifact_and_the_judge_cache(repo, tmp_path):
    """A teammate's fresh clone pulls models, tables and the judge cache: nothing re-runs, the
    metrics match, and a label re-run pays for no judgment."""
    from moto.server import ThreadedMotoServer

    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    run(["dvc", "add", ".mascot/cache"], repo)  # the judge caches travel with the artifacts
    run(["dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote")], repo)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    s3 = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        import boto3

        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", **{k.lower(): v for k, v in s3.items()
                                                                        if k != "AWS_DEFAULT_REGION"},
                     region_name="us-east-1").create_bucket(Bucket="team")  # fmt: skip
        run(["dvc", "remote", "add", "bucket", "s3://team/mascot"], repo)
        run(["dvc", "remote", "modify", "bucket", "endpointurl", f"http://127.0.0.1:{port}"], repo)
        run(["git", "add", "-A"], repo)
        run([*git, "commit", "-q", "-m", "remotes and the judge cache"], repo)
        # a fresh clone has no outputs, and its lock is still what its code and params produce
        run(["git", "clone", "-q", str(repo), str(tmp_path / "fresh")], tmp_path)
        assert lock_problems(tmp_path / "fresh") == {}
        for remote in ("shared", "bucket"):
            assert "pushed" in run(["dvc", "push", "-r", remote], repo, s3)
            clone = tmp_path / f"clone_{remote}"
            clone_and_pull(repo, clone, remote, s3)
            assert (clone / "models/director/adapter_config.json").exists()
            for cache in (repo / ".mascot/cache").iterdir():
                assert (clone / ".mascot/cache" / cache.name).read_bytes() == cache.read_bytes()
            assert stages_run(run(["dvc", "repro"], clone)) == []
            assert run(["dvc", "metrics", "show", "--json"], clone) == run(["dvc", "metrics", "show", "--json"], repo)
        # the teammate re-runs a judging stage: every judgment comes from the pulled cache
        out = run(["dvc", "repro", "-f", "-s", "label"], clone)
        assert stages_run(out) == ["label"]
        label = json.loads((clone / "metrics/label.json").read_text())
        calls = [v for k, v in label.items() if k.startswith("judge.") and k.endswith(".calls")]
        hits = [v for k, v in label.items() if k.startswith("judge.") and k.endswith(".cache_hits")]
        assert calls and sum(calls) == 0 and sum(hits) == label["judgments"]
    finally:
        server.stop()
        # stop tracking the cache here: every judged run changes it, and the later tests expect a clean status
        run(["dvc", "remove", ".mascot/cache.dvc"], repo)
        run(["git", "add", "-A"], repo)
        run([*git, "commit", "-q", "-m", "judge caches untracked"], repo)


def test_editing_a_persona_card_reruns_only_what_depends_on_it(repo):
    assert lock_problems(repo) == {}, "the committed run is current"
    card = repo / "configs/personas/empathetic/the_beacon.yaml"
    card.write_text(card.read_text().replace("Upbeat, sincere, hopeful", "Upbeat, sincere, quietly hopeful"))
    before = (repo / "data/candidates.parquet").read_bytes()
    assert set(lock_problems(repo)) == set(STAGES) - {"base_model", "ingest", "sft"}
    assert "configs/personas" in " ".join(lock_problems(repo)["candidates"])
    # the card is in the agents' prompts (Stage 1), the group's (every Stage 2 stage) and the report's
    # names; what DVC then re-runs below a changed stage is its own business, exercised by other tests
    status = run(["dvc", "status", "--json"], repo).splitlines()
    changed = set(json.loads(next(line for line in status if line.startswith("{"))))
    assert changed == set(STAGES) - {"base_model", "ingest", "sft"}, changed
    out = run(["dvc", "repro", "--single-item", "candidates"], repo)
    assert stages_run(out) == ["candidates"], out
    after = read_table(repo / "data/candidates.parquet", CANDIDATES)
    beacon = after.filter(pl.col("persona") == "the_beacon")
    assert beacon["prompt"].str.contains("quietly hopeful").all()
    assert (repo / "data/candidates.parquet").read_bytes() != before


def test_every_training_stage_runs_under_accelerate_with_two_cpu_processes(repo):
    """The `launcher` param puts every training stage under `accelerate launch`: two
    gloo processes on CPU train each model, the main process saves it, DVC sees a normal run."""
    params = repo / "params.yaml"
    launcher = f"accelerate launch --config_file configs/accelerate/cpu_ddp.yaml --main_process_port {free_port()}"
    params.write_text(params.read_text().replace("launcher: python\n", f"launcher: {launcher}\n"))
    training = ["sft", "persona_rm", "grpo_agents", "director_sft", "group_rm", "grpo_director"]
    # the training stages alone: what runs below them is the generation and judging other tests cover
    out = run(["dvc", "repro", "--single-item", *training], repo)
    assert stages_run(out) == training, out
    for stage in training:
        assert f"{launcher} -m pipeline.{stage}" in out
    assert "on 2 process(es) (DistributedType.MULTI_CPU)" in out
    grpo = json.loads((repo / "metrics/grpo_agents.json").read_text())
    assert grpo["processes"] == 2 and grpo["steps"] == profile_config("tiny").grpo_agents.max_steps
    # the main process alone writes the check: one table of both rounds, not one per process
    assert read_table(repo / "data/agents_check.parquet", AGENTS_CHECK).height == 2 * grpo["check_replies"]
    assert json.loads((repo / "metrics/grpo_director.json").read_text())["processes"] == 2
    assert json.loads((repo / "models/group_rm/mascot_rm.json").read_text())["reward_std"] > 0
    assert (repo / "models/sft/adapter_config.json").exists()
    assert json.loads((repo / "models/persona_rm/mascot_rm.json").read_text())["reward_std"] > 0
    status = run(["dvc", "status"], repo).splitlines()
    assert not any(f"{stage}:" in status for stage in training), status


def test_a_stage_rejects_bad_params_before_compute(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(
        (REPO / "params.yaml").read_text().replace("  k: 4\n", "  k: 1\n").replace("max_steps:", "max_stepz:")
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.candidates",
            "--params",
            str(params),
            "--base",
            "x",
            "--sft",
            "x",
            "--contexts",
            str(tmp_path / "missing.parquet"),
            "--out",
            str(tmp_path / "c.parquet"),
            "--metrics",
            str(tmp_path / "m.json"),
            "--resume",
            str(tmp_path / "r.jsonl"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "candidates.k: Input should be greater than or equal to 2" in proc.stderr
    assert "sft.max_stepz: unknown key. Did you mean 'sft.max_steps'?" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "c.parquet").exists()


def test_the_api_key_is_nowhere_in_outputs_caches_lock_metrics_report_or_logs(repo, keyed_server):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:  # the judge could only have worked with the key
        urllib.request.urlopen(f"{keyed_server}/v1/models", timeout=10)
    assert refused.value.code == 401
    needle = SECRET.encode()
    files = [p for p in repo.rglob("*") if p.is_file() and ".git" not in p.relative_to(repo).parts[:1]]
    searched = {p.relative_to(repo).as_posix() for p in files}
    assert {"dvc.lock", "params.yaml", "metrics/group_label.json", "reports/eval.md", "reports/eval.html"} <= searched
    assert any(s.startswith(".dvc/cache/") for s in searched) and any(s.startswith(".mascot/cache/") for s in searched)
    leaks = [p.relative_to(repo).as_posix() for p in files if needle in p.read_bytes()]
    assert leaks == [], f"API key written to {leaks}"
    assert any("Running stage 'group_label'" in log for log in LOGS), "the judged run's output is among those searched"
    assert not any(SECRET in log for log in LOGS), "API key printed by a command"
