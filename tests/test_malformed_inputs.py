"""Every file a user hands the pipeline, damaged the ways files get damaged: cut short, a wrong key
or column, bytes that are not UTF-8, empty, one value of a megabyte. Each ends in one clear error
naming the file (and the key or column where there is one) before any compute, and a stage turns it
into exit code 2 without a traceback. Prompt templates are checked when a stage builds its prompts and by
`mascot check`, since the judge's are first rendered only after hours of generation. The raw datasets have
their own sweep in test_loaders.py, the human-evaluation sheets theirs in test_human_eval.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from mascot.cli import main as cli
from mascot.config import ConfigError, load_config
from mascot.eval.mbti import load_simulators
from mascot.judge.rubric import RubricError, load_rubric
from mascot.personas import PersonaError, load_cards
from mascot.prompts import PromptError, Prompts
from mascot.schemas import CONTEXTS, MBTI_HEATMAP, TableError, read_table, write_table
from mascot.stage import read_metrics, write_metrics

from .conftest import REPO

MEGABYTE = "x" * 1_000_000
# loader, a good shipped file, its error, and a text key that can be given a megabyte
YAML_FILES = {
    "persona card": (lambda p: load_cards(p.parent), "configs/personas/empathetic/the_anchor.yaml", PersonaError,
                     "description"),
    "rubric": (load_rubric, "configs/rubrics/empathetic.yaml", RubricError, "question"),
    "user simulators": (load_simulators, "configs/user_simulators/mbti.yaml", ValueError, "style"),
    "params": (load_config, "params.yaml", ConfigError, None),
}  # fmt: skip


def cut_mid_value(text: str) -> str:
    """The file as a crash mid-write leaves it: everything up to the middle of a line past half."""
    start = text.index("\n", len(text) // 2) + 1
    line = text[start : text.index("\n", start)]
    return text[: start + len(line) // 2]


DAMAGE = {  # (text, long key) → bytes, and what the error must say besides the file
    "cut short": (lambda t, k: cut_mid_value(t).encode(), None),
    "unknown key": (lambda t, k: (t + "\ncolour: red\n").encode(), "colour"),
    "not UTF-8": (lambda t, k: t.encode().replace(b"e", b"\xe9", 1), "utf-8"),  # a latin-1 é
    "empty": (lambda t, k: b"", None),
    "a 1 MB value": (lambda t, k: t.replace(f"{k}: ", f"{k}: {MEGABYTE} ", 1).encode(), "at most"),
}
# every params field has a default (a profile lists only what it changes), so an empty or shortened
# params file is a valid one, and `dvc repro` refuses a stage whose declared param is missing
NOT_AN_ERROR = {("params", "cut short"), ("params", "empty"), ("params", "a 1 MB value")}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("kind", list(YAML_FILES))
def test_a_damaged_yaml_file_is_refused_naming_it(kind, damage, tmp_path):
    if (kind, damage) in NOT_AN_ERROR:
        pytest.skip("a valid params file")
    load, good, error, long_key = YAML_FILES[kind]
    damage_fn, named = DAMAGE[damage]
    path = tmp_path / Path(good).name
    path.write_bytes(damage_fn((REPO / good).read_text(encoding="utf-8"), long_key))
    with pytest.raises(error) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message, message
    if named:
        assert named in message, message
    assert len(message) < 2000, "the error quotes the damage, not the megabyte"


def cut_inside_last_tag(text: str) -> str:
    """A template cut mid-write inside its last {{ … }} or {% … %}: the cut a reader can detect (a cut
    in plain text leaves a valid, shorter template)."""
    return text[: max(text.rfind("{{"), text.rfind("{%")) + 4]


TEMPLATE_DAMAGE = {  # text of judge_user.jinja → damaged bytes (None: the file is deleted), what the error says
    "cut short": (lambda t: cut_inside_last_tag(t).encode(), lambda t: f":{cut_inside_last_tag(t).count(chr(10)) + 1}: "),
    "an unknown filter": (lambda t: t.replace("{{ response }}", "{{ response | lenght }}").encode(),
                          lambda t: f":{t.split('{{ response }}')[0].count(chr(10)) + 1}: No filter named 'lenght'"),
    "not UTF-8": (lambda t: t.encode().replace(b"e", b"\xe9", 1), lambda t: ": not UTF-8"),
    "empty": (lambda t: b"", lambda t: ": empty"),
    "a 1 MB template": (lambda t: (t + MEGABYTE).encode(), lambda t: f": {len(t) + len(MEGABYTE)} chars, at most"),
    "missing": (lambda t: None, lambda t: ": missing"),
}  # fmt: skip


@pytest.mark.parametrize("damage", list(TEMPLATE_DAMAGE))
def test_a_damaged_prompt_template_is_refused_naming_it(damage, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # the params' persona folder is relative to the repo
    prompts = tmp_path / "prompts"
    shutil.copytree(REPO / "configs/prompts", prompts)
    target = prompts / "judge_user.jinja"
    damage_fn, named = TEMPLATE_DAMAGE[damage]
    text = target.read_text(encoding="utf-8")
    damaged = damage_fn(text)
    target.unlink() if damaged is None else target.write_bytes(damaged)

    # `mascot check` reads every template the pipeline renders
    assert cli(["check", str(write_params(tmp_path, prompts))]) == 2
    err = capsys.readouterr().err
    assert f"{target}{named(text)}" in err and len(err) < 2000, err[-2000:]
    if damaged is not None:  # and so does every stage, when it builds its prompts (a missing one DVC refuses)
        with pytest.raises(PromptError) as built:
            Prompts(prompts)
        assert f"{target}{named(text)}" in str(built.value)


def write_params(folder: Path, prompts: Path) -> Path:
    path = folder / "params.yaml"
    path.write_text(
        (REPO / "params.yaml").read_text().replace("prompts_dir: configs/prompts", f"prompts_dir: {prompts}")
    )
    return path


def contexts() -> pl.DataFrame:
    return pl.DataFrame([{
        "context_id": "ed1", "dataset": "empathetic_dialogues", "split": "train", "domain": "negative", "emotion": "sad",
        "situation": "My dog died.", "query": None, "reference": None, "source": "ed/valid.csv:1",
        "history": [{"speaker": "user", "text": "My dog died last night."}],
    }], schema_overrides={"query": pl.Utf8, "reference": pl.Utf8})  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "named"),
    [("cut short", "not a readable parquet file"), ("empty", "not a readable parquet file"),
     ("a CSV under the name", "not a readable parquet file"), ("a column renamed", "situation")],
)  # fmt: skip
def test_a_damaged_table_is_refused_naming_it(damage, named, tmp_path):
    path = tmp_path / "contexts.parquet"
    write_table(contexts(), path, CONTEXTS)
    data = path.read_bytes()
    if damage == "cut short":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "a CSV under the name":
        contexts().drop("history").write_csv(path)
    else:
        contexts().rename({"situation": "situaton"}).write_parquet(path)
    with pytest.raises(TableError) as info:
        read_table(path, CONTEXTS)
    assert str(path) in str(info.value) and named in str(info.value), info.value


HEATMAP = pl.DataFrame({"type": ["INTJ", "ESFP"], "agent": ["The Anchor", "The Beacon"], "overall": [61.5, 48.25],
                        "turns": [3, 4]})  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "named"),
    [("cut short", "column 'turns'"), ("empty", "not a readable csv file"), ("a column renamed", "agnet"),
     ("a score off the scale", "column 'overall'")],
)  # fmt: skip
def test_a_damaged_heatmap_csv_is_refused_naming_it(damage, named, tmp_path):
    path = tmp_path / "heatmap.csv"
    write_table(HEATMAP, path, MBTI_HEATMAP)
    assert read_table(path, MBTI_HEATMAP).equals(HEATMAP)
    text = path.read_text()
    path.write_text({"cut short": text[: text.rindex(",") + 1], "empty": "",
                     "a column renamed": text.replace("agent", "agnet", 1),
                     "a score off the scale": text.replace("61.5", "615.0")}[damage])  # fmt: skip
    with pytest.raises(TableError) as info:
        read_table(path, MBTI_HEATMAP)
    assert str(path) in str(info.value) and named in str(info.value), info.value


@pytest.mark.parametrize("damage", ["cut short", "empty", "not UTF-8", "a list, not an object"])
def test_a_damaged_metrics_file_is_refused_naming_it(damage, tmp_path):
    path = tmp_path / "evaluate.json"
    write_metrics(path, {"contexts": 12, "mascot.overall": 71.2})
    assert read_metrics(path) == {"contexts": 12, "mascot.overall": 71.2}
    data = path.read_bytes()
    path.write_bytes({"cut short": data[: len(data) // 2], "empty": b"", "not UTF-8": data.replace(b"c", b"\xe9", 1),
                      "a list, not an object": b"[1, 2]"}[damage])  # fmt: skip
    with pytest.raises(ValueError, match=f"^{path}: "):
        read_metrics(path)


def test_a_trained_model_folder_with_its_record_cut_short_is_refused_naming_it(tmp_path):
    from mascot.agents import AGENTS_META, Agents
    from mascot.reward_model import META_FILE, RewardModel

    for folder, record, load in (("agents", AGENTS_META, Agents.load), ("persona_rm", META_FILE, RewardModel.load)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / record).write_text('{"mode": "shared", "adap')
        with pytest.raises(ValueError, match=f"^{tmp_path / folder / record}: not valid JSON"):
            load(tmp_path / folder)


STAGE_INPUTS = {  # stage → its arguments ({bad}: the damaged file, {tmp}: a scratch folder), the file, its bytes, the error
    "candidates": ("--base x --sft x --contexts {bad} --out {tmp}/out --metrics {tmp}/m.json --resume {tmp}/r.jsonl",
                   "contexts.parquet", b"PAR1 cut short", "not a readable parquet file"),
    "report": ("--metrics {bad} --replies x --contexts x --mbti_metrics x --mbti_heatmap x --agents_metrics x "
               "--director_metrics x --out {tmp}/out "
               "--human_key {tmp}/k.parquet", "evaluate.json", b'{"contexts": 1', "not a readable metrics file"),
}  # fmt: skip


@pytest.mark.parametrize("stage", list(STAGE_INPUTS))
def test_a_stage_given_a_damaged_input_exits_2_naming_it_without_a_traceback(stage, tmp_path):
    arguments, name, data, named = STAGE_INPUTS[stage]
    bad = tmp_path / name
    bad.write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-m", f"pipeline.{stage}", "--params", str(REPO / "params.yaml"),
         *arguments.format(bad=bad, tmp=tmp_path).split()],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"{bad}" in proc.stderr and named in proc.stderr
    assert "Traceback" not in proc.stderr and sorted(tmp_path.iterdir()) == [bad]
