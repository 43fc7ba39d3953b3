"""Stage ingest: EmpatheticDialogues + QMSum → one sampled, validated contexts table."""

import dataclasses
import json

from mascot.data.ingest import ingest
from mascot.schemas import CONTEXTS, write_table
from mascot.stage import log, run_stage, write_metrics


def main(args, cfg):
    contexts, report = ingest(cfg.ingest)
    for line in report.log_lines() if len(report) else []:
        log.warning(line)
    write_table(contexts, args.out, CONTEXTS)
    with open(args.issues, "w", encoding="utf-8") as fh:  # every repaired/dropped row, for a person to inspect
        fh.writelines(json.dumps(dataclasses.asdict(issue)) + "\n" for issue in report)
    counts = contexts.group_by("dataset", "split", "domain").len().sort("dataset", "split", "domain")
    metrics = {f"contexts.{r['dataset']}.{r['split']}.{r['domain']}": r["len"] for r in counts.iter_rows(named=True)}
    write_metrics(args.metrics, {"contexts": contexts.height, **metrics, **report.counts()})
    log.info("%d contexts → %s", contexts.height, args.out)


if __name__ == "__main__":
    run_stage("ingest", main, "out", "issues", "metrics")
