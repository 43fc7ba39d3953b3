"""Where a trained group's files come from: the workspace, a git revision or a DVC experiment.

A group needs its params (groups, conversation settings), persona cards, prompt templates and the
pipeline's model folders. In the workspace they are read in place. For a revision or an experiment
they are materialised once into ``.mascot/revs/<commit>/`` through DVC's file system, which reads
git-tracked files from the commit and DVC outputs from the local cache (or the default remote), the
way ``dvc get`` does — so talking to last week's group needs no checkout.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mascot.yaml_files import read_yaml_mapping

# the pipeline's outputs a conversation needs (dvc.yaml writes them under these names)
MODEL_DIRS = {"base": "models/base", "sft": "models/sft", "agents": "models/agents", "director": "models/director"}
PARAMS = "params.yaml"
REVS_DIR = Path(".mascot") / "revs"


class WorkspaceError(FileNotFoundError):
    """A trained group's files are missing; the message says which and how to make them."""


@dataclass(frozen=True)
class GroupFiles:
    root: Path  # params, configs and models are read relative to this folder
    rev: str | None  # the commit they come from (None: the workspace as it is)

    @property
    def params(self) -> Path:
        return self.root / PARAMS

    def model(self, name: str) -> Path:
        return self.root / MODEL_DIRS[name]


def group_files(repo: str | Path = ".", rev: str | None = None) -> GroupFiles:
    """The trained group of ``repo``'s workspace, or of ``rev``: a commit, branch, tag or the name
    of a DVC experiment (``dvc exp show`` lists them)."""
    repo = Path(repo).resolve()
    if rev is None:
        files = GroupFiles(repo, None)
    else:
        commit = resolve_rev(repo, rev)
        files = GroupFiles(_materialise(repo, commit), commit)
    missing = [MODEL_DIRS[n] for n in MODEL_DIRS if not files.model(n).is_dir()]
    if not files.params.is_file():
        missing.insert(0, PARAMS)
    if missing:
        where = f"revision {rev} ({files.rev[:12]})" if rev else str(repo)
        raise WorkspaceError(
            f"{where}: no trained group: missing {', '.join(missing)}. Run `dvc repro grpo_director` "
            "(or `dvc pull`) first; the group is the output of the whole pipeline."
        )
    return files


def resolve_rev(repo: Path, rev: str) -> str:
    """The commit of a git revision or of a DVC experiment name (experiments are git refs under
    ``refs/exps/``, named by their last path component)."""
    out = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if out:
        return out
    refs = _git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps") or ""
    found = {ref.rsplit("/", 1)[-1]: sha for ref, sha in (line.split() for line in refs.splitlines())}
    if rev in found:
        return found[rev]
    from mascot.registry import unknown_name_message

    raise WorkspaceError(unknown_name_message("git revision or DVC experiment", rev, found, where=str(repo)))


def _git(repo: Path, *args: str) -> str | None:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        if "not a git repository" in proc.stderr:
            raise WorkspaceError(f"{repo}: not a git repository, so a revision cannot be read from it")
        return None
    return proc.stdout.strip()


def _materialise(repo: Path, commit: str) -> Path:
    """Copy what a conversation needs from ``commit`` into ``.mascot/revs/<commit>`` (once: a
    commit's files never change, and a finished copy is marked complete)."""
    dest = repo / REVS_DIR / commit
    if (dest / ".complete").is_file():
        return dest
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(url=str(repo), rev=commit)
    tmp = dest.with_name(commit + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if not fs.exists(PARAMS):
        raise WorkspaceError(f"revision {commit[:12]} of {repo} has no {PARAMS}")
    fs.get_file(PARAMS, str(tmp / PARAMS))
    params = read_yaml_mapping(tmp / PARAMS, f"params file of revision {commit[:12]}", WorkspaceError)
    wanted = [params.get("personas", {}).get("dir", "configs/personas"), params.get("prompts_dir", "configs/prompts")]
    for path in [*wanted, *MODEL_DIRS.values()]:
        if fs.exists(path):  # a missing one is reported by group_files with the whole list
            fs.get(path, str(tmp / path), recursive=True)
    (tmp / ".complete").write_text(commit)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest
