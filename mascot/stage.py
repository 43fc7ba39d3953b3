"""What every stage script shares: argument parsing, params, clean failures, metrics."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mascot.config import ConfigError, MascotConfig, load_config
from mascot.llm import BackendError
from mascot.yaml_files import read_json_object

log = logging.getLogger("mascot")

# Errors that mean "the input is wrong": shown as one clear message, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, FileNotFoundError, KeyError, ValueError, BackendError)


def run_stage(name: str, main: Callable[[argparse.Namespace, MascotConfig], None], *paths: str) -> None:
    """Parse ``--params`` plus the stage's path arguments, load and validate every
    param before any compute, run ``main``, and turn input errors into exit code 2."""
    parser = argparse.ArgumentParser(prog=f"pipeline.{name}")
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    for p in paths:
        parser.add_argument(f"--{p}", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        cfg = load_config(args.params)
        main(args, cfg)
    except USER_ERRORS as exc:
        if os.environ.get("MASCOT_DEBUG"):
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"mascot {name}: error: {message}\n(set MASCOT_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(2)


def write_metrics(path: str | Path, metrics: dict[str, Any]) -> None:
    """Flat JSON (what `dvc metrics diff` compares); NaN becomes null so the file stays valid JSON."""
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")  # atomic: a kill never leaves half a metrics file
    tmp.write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    log.info("metrics → %s", path)


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A metrics file another stage wrote, refused with its name when it is not a JSON object."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"metrics file not found at {path}; run the stage that writes it first")
    return read_json_object(path, "metrics file")
