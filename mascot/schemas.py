"""Every table that passes between stages, as a pandera schema, in one place.

Stages write tables with :func:`write_table` and read them with :func:`read_table`;
both validate, so a bad table stops the stage that made it *and* the stage that
would have consumed it, with the table, the column and the first bad rows named.
"""

from __future__ import annotations

from pathlib import Path

import pandera.polars as pa
import polars as pl

DATASETS = ("empathetic_dialogues", "qmsum")
DOMAINS = {
    "empathetic_dialogues": ("positive", "negative", "neutral"),
    "qmsum": ("academic", "committee", "product"),
}
ALL_DOMAINS = tuple(d for ds in DATASETS for d in DOMAINS[ds])

ID_COLUMNS = ("pair_id", "candidate_id", "context_id")  # how a bad row is named, most specific first

TURN = pl.Struct({"speaker": pl.Utf8, "text": pl.Utf8})


class TableError(ValueError):
    """A table broke its schema; the message names the table, column and rows."""


def _nonblank(data) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col(data.key).str.strip_chars().str.len_chars() > 0)


def _history_ok(data) -> pl.LazyFrame:
    # every turn has a non-empty speaker and text
    return data.lazyframe.select(
        pl.col(data.key)
        .list.eval(
            pl.element().struct.field("speaker").str.len_chars().fill_null(0).gt(0)
            & pl.element().struct.field("text").str.len_chars().fill_null(0).gt(0)
        )
        .list.all()
    )


CONTEXTS = pa.DataFrameSchema(
    name="contexts",
    columns={
        "context_id": pa.Column(pl.Utf8, unique=True, checks=pa.Check(_nonblank)),
        "dataset": pa.Column(pl.Utf8, pa.Check.isin(DATASETS)),
        "split": pa.Column(pl.Utf8, pa.Check.isin(("train", "valid", "test"))),
        "domain": pa.Column(pl.Utf8, pa.Check.isin(ALL_DOMAINS)),
        "emotion": pa.Column(pl.Utf8, nullable=True),
        "situation": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "history": pa.Column(pl.List(TURN), checks=pa.Check(_history_ok, name="turns_have_speaker_and_text")),
        "query": pa.Column(pl.Utf8, nullable=True),
        "reference": pa.Column(pl.Utf8, nullable=True),
        "source": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
    },
    checks=[
        pa.Check(
            lambda data: data.lazyframe.select((pl.col("dataset") == "qmsum") | pl.col("emotion").is_not_null()),
            name="empathetic_dialogues_rows_have_an_emotion",
        ),
    ],
    strict=True,
    ordered=False,
)

CANDIDATES = pa.DataFrameSchema(
    name="candidates",
    columns={
        "candidate_id": pa.Column(pl.Utf8, unique=True, checks=pa.Check(_nonblank)),
        "context_id": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "persona": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "sample_idx": pa.Column(pl.Int64, pa.Check.ge(0)),
        "prompt": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "response": pa.Column(pl.Utf8),
        "model": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "backend": pa.Column(pl.Utf8),
        "temperature": pa.Column(pl.Float64, pa.Check.ge(0)),
        "top_p": pa.Column(pl.Float64, [pa.Check.gt(0), pa.Check.le(1)]),
        "max_new_tokens": pa.Column(pl.Int64, pa.Check.gt(0)),
        "seed": pa.Column(pl.Int64),
        "completion_tokens": pa.Column(pl.Int64, pa.Check.ge(0)),
        "finish_reason": pa.Column(pl.Utf8, pa.Check.isin(("stop", "length"))),
    },
    unique=["context_id", "persona", "sample_idx"],
    strict=True,
    ordered=False,
)

JUDGMENTS = pa.DataFrameSchema(
    name="judgments",
    columns={
        "candidate_id": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "judge": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "model": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "rubric": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "rubric_version": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "criterion": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        # null exactly when status is "failed": a failure is recorded, never replaced by a default
        "score": pa.Column(pl.Float64, [pa.Check.ge(1.0), pa.Check.le(5.0)], nullable=True),
        "status": pa.Column(pl.Utf8, pa.Check.isin(("ok", "failed"))),
        "method": pa.Column(pl.Utf8, pa.Check.isin(("logprobs", "json"))),
        "attempts": pa.Column(pl.Int64, pa.Check.ge(1)),
        "raw": pa.Column(pl.Utf8),
    },
    checks=[
        pa.Check(
            lambda data: data.lazyframe.select((pl.col("status") == "ok") == pl.col("score").is_not_null()),
            name="score_present_exactly_when_ok",
        ),
    ],
    unique=["candidate_id", "judge", "criterion"],
    strict=True,
    ordered=False,
)


def preference_pairs_schema(delta: float) -> pa.DataFrameSchema:
    """Pairs with a judged gap of at least ``delta`` inside one (context, persona)."""

    def same_group(data) -> pl.LazyFrame:
        prefix = pl.col("context_id") + "|" + pl.col("persona") + "|"
        return data.lazyframe.select(
            pl.col("chosen_id").str.starts_with(prefix) & pl.col("rejected_id").str.starts_with(prefix)
        )

    def not_reversed(data) -> pl.LazyFrame:
        # (a, b) and (b, a) together would be a contradiction, not two preferences
        lf = data.lazyframe
        rev = lf.select(
            pl.col("rejected_id").alias("chosen_id"), pl.col("chosen_id").alias("rejected_id"), flag=pl.lit(True)
        )
        return lf.join(rev, on=["chosen_id", "rejected_id"], how="left", maintain_order="left").select(
            pl.col("flag").is_null()
        )

    return pa.DataFrameSchema(
        name="preference_pairs",
        columns={
            "pair_id": pa.Column(pl.Utf8, unique=True, checks=pa.Check(_nonblank)),
            "context_id": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
            "persona": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
            "chosen_id": pa.Column(pl.Utf8),
            "rejected_id": pa.Column(pl.Utf8),
            "chosen": pa.Column(pl.Utf8),
            "rejected": pa.Column(pl.Utf8),
            "score_chosen": pa.Column(pl.Float64, [pa.Check.ge(1.0), pa.Check.le(5.0)]),
            "score_rejected": pa.Column(pl.Float64, [pa.Check.ge(1.0), pa.Check.le(5.0)]),
            "margin": pa.Column(pl.Float64, pa.Check.ge(delta)),
        },
        checks=[
            pa.Check(
                lambda d: d.lazyframe.select(pl.col("chosen_id") != pl.col("rejected_id")), name="chosen_id_differs"
            ),
            pa.Check(lambda d: d.lazyframe.select(pl.col("chosen") != pl.col("rejected")), name="chosen_text_differs"),
            pa.Check(same_group, name="both_from_the_same_context_and_persona"),
            pa.Check(
                lambda d: d.lazyframe.select(
                    (pl.col("score_chosen") - pl.col("score_rejected") - pl.col("margin")).abs() < 1e-9
                ),
                name="margin_is_score_difference",
            ),
            pa.Check(not_reversed, name="no_pair_also_reversed"),
        ],
        unique=["chosen_id", "rejected_id"],
        strict=True,
        ordered=False,
    )


AGENTS_CHECK = pa.DataFrameSchema(
    name="agents_check",
    columns={
        "context_id": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "dataset": pa.Column(pl.Utf8, pa.Check.isin(DATASETS)),
        "domain": pa.Column(pl.Utf8, pa.Check.isin(ALL_DOMAINS)),
        "persona": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "sample_idx": pa.Column(pl.Int64, pa.Check.ge(0)),
        "seed": pa.Column(pl.Int64),
        "policy": pa.Column(pl.Utf8, pa.Check.isin(("before", "after"))),
        "response": pa.Column(pl.Utf8),
        "completion_tokens": pa.Column(pl.Int64, pa.Check.ge(0)),
        "finish_reason": pa.Column(pl.Utf8, pa.Check.isin(("stop", "length"))),
        "persona_rm": pa.Column(pl.Float64),
        "format_reward": pa.Column(pl.Float64, [pa.Check.ge(0), pa.Check.le(1)]),
        "format_pass": pa.Column(pl.Boolean),
        "format_failed": pa.Column(pl.Utf8),
    },
    unique=["context_id", "persona", "sample_idx", "policy"],
    strict=True,
    ordered=False,
)


ROLLOUTS = pa.DataFrameSchema(
    name="rollouts",
    columns={
        "block_id": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "context_id": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "sample_idx": pa.Column(pl.Int64, pa.Check.ge(0)),
        "turn": pa.Column(pl.Int64, pa.Check.ge(0)),
        "directive_raw": pa.Column(pl.Utf8),  # the director's (last) text as written ("" without a director)
        "directive_attempts": pa.Column(pl.Int64, pa.Check.ge(0)),  # director samples asked (0 without a director)
        "directive_valid": pa.Column(pl.Boolean),  # false: the counted fallback was used
        "directive_problem": pa.Column(pl.Utf8, nullable=True),
        "speaker": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),  # a persona name, or END
        "instruction": pa.Column(pl.Utf8),
        "text": pa.Column(pl.Utf8),
        # companion drafts the turn took (0 for END; > 1: the reply check refused the first)
        "reply_drafts": pa.Column(pl.Int64, pa.Check.ge(0)),
    },
    unique=["block_id", "turn"],
    strict=True,
    ordered=False,
)


DIRECTOR_CHECK = pa.DataFrameSchema(
    name="director_check",
    columns={
        "context_id": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "dataset": pa.Column(pl.Utf8, pa.Check.isin(DATASETS)),
        "domain": pa.Column(pl.Utf8, pa.Check.isin(ALL_DOMAINS)),
        "sample_idx": pa.Column(pl.Int64, pa.Check.ge(0)),
        "policy": pa.Column(pl.Utf8, pa.Check.isin(("before", "after"))),
        "transcript": pa.Column(pl.Utf8),  # one "Name: text" line per agent turn
        "speakers": pa.Column(pl.Utf8),  # persona names in speaking order, comma-separated
        "turns": pa.Column(pl.Int64, pa.Check.ge(1)),  # a group reply always has a turn (END first is invalid)
        "directives": pa.Column(pl.Int64, pa.Check.ge(1)),
        "invalid_directives": pa.Column(pl.Int64, pa.Check.ge(0)),
        "ended_by_director": pa.Column(pl.Boolean),
        "directives_raw": pa.Column(pl.Utf8),  # JSON list of what the director wrote (last sample per directive)
        "instructions": pa.Column(pl.Utf8),  # JSON list of the instructions the agents were given, turn by turn
        "director_samples": pa.Column(pl.Int64, pa.Check.ge(0)),  # director samples over the block's directives
        "group_rm": pa.Column(pl.Float64),
        "redundancy": pa.Column(pl.Float64, nullable=True),  # null: fewer than two turns
    },
    checks=[
        pa.Check(
            lambda data: data.lazyframe.select(pl.col("invalid_directives") <= pl.col("directives")),
            name="invalid_directives_at_most_directives",
        )
    ],
    unique=["context_id", "sample_idx", "policy"],
    strict=True,
    ordered=False,
)


# one row per directive of every evaluated reply: the rollouts' columns and the system that wrote it
EVAL_REPLIES = pa.DataFrameSchema(
    name="eval_replies",
    columns={"system": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)), **ROLLOUTS.columns},
    unique=["block_id", "turn"],
    strict=True,
    ordered=False,
)

# The MBTI study's conversations: a simulated user of each type with the group, turn by turn.
MBTI_CONVERSATIONS = pa.DataFrameSchema(
    name="mbti_conversations",
    columns={
        "type": pa.Column(pl.Utf8, pa.Check.str_matches(r"^[IE][SN][TF][JP]$")),
        "context_id": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "position": pa.Column(pl.Int64, pa.Check.ge(0)),
        "round": pa.Column(pl.Int64, pa.Check.ge(0)),
        "role": pa.Column(pl.Utf8, pa.Check.isin(("user", "agent"))),
        "speaker": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "text": pa.Column(pl.Utf8),
    },
    unique=["type", "context_id", "position"],
    strict=True,
)

# The MBTI heatmap (a CSV, for `dvc plots`): each cell the mean overall of one agent's turns with one type.
MBTI_HEATMAP = pa.DataFrameSchema(
    name="mbti_heatmap",
    columns={
        "type": pa.Column(pl.Utf8, pa.Check.str_matches(r"^[IE][SN][TF][JP]$")),
        "agent": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "overall": pa.Column(pl.Float64, pa.Check.in_range(0, 100), nullable=True),  # null: every judgment failed
        "turns": pa.Column(pl.Int64, pa.Check.ge(1)),
    },
    unique=["type", "agent"],
    strict=True,
)

# The key of a blinded human-evaluation sheet: each opaque item id back to its system and reply.
HUMAN_EVAL_KEY = pa.DataFrameSchema(
    name="human_eval_key",
    columns={
        "item": pa.Column(pl.Utf8, pa.Check.str_matches(r"^H\d+$"), unique=True),
        "system": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "context_id": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "candidate_id": pa.Column(pl.Utf8, checks=pa.Check(_nonblank), unique=True),
        "dataset": pa.Column(pl.Utf8, pa.Check.isin(DATASETS)),
        "rubric": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
        "rubric_version": pa.Column(pl.Utf8, checks=pa.Check(_nonblank)),
    },
    strict=True,
)

TABLES = {
    s.name: s
    for s in (
        CONTEXTS,
        CANDIDATES,
        JUDGMENTS,
        AGENTS_CHECK,
        ROLLOUTS,
        DIRECTOR_CHECK,
        EVAL_REPLIES,
        MBTI_CONVERSATIONS,
        MBTI_HEATMAP,
        HUMAN_EVAL_KEY,
    )
}


def validate(df: pl.DataFrame, schema: pa.DataFrameSchema, where: str | Path = "") -> pl.DataFrame:
    """Validate ``df`` lazily (all failures at once) and raise :class:`TableError`
    naming the table, each failing column/check and the first bad rows."""
    try:
        return schema.validate(df, lazy=True)
    except (pa.errors.SchemaErrors, pa.errors.SchemaError) as exc:
        raise TableError(_describe(exc, df, schema.name, where)) from None


def _describe(exc: Exception, df: pl.DataFrame, table: str, where: str | Path) -> str:
    place = f" ({where})" if where else ""
    lines = [f"table '{table}'{place} breaks its schema:"]
    cases = getattr(exc, "failure_cases", None)
    if cases is None or not isinstance(cases, pl.DataFrame) or cases.is_empty():
        lines.append(f"  {exc}")
        return "\n".join(lines)
    for (column, check), group in cases.group_by(["column", "check"], maintain_order=True):
        rows = [i for i in group["index"].to_list() if i is not None][:5] if "index" in group.columns else []
        values = [str(v)[:80] for v in group["failure_case"].to_list()[:5]]
        where_ = "table-wide" if column in (None, table) else f"column '{column}'"
        lines.append(f"  {where_}, check {check}: {len(group)} failure(s); first rows {rows}, values {values}")
        id_col = next((c for c in ID_COLUMNS if c in df.columns), None)
        if rows and id_col and column != id_col and max(rows) < df.height:
            lines.append(f"    {id_col} of those rows: {df[rows][id_col].to_list()}")
    return "\n".join(lines)


def write_table(df: pl.DataFrame, path: str | Path, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Validate then write Parquet (CSV where the name ends in .csv, for `dvc plots`) atomically: a
    crash never leaves half a table."""
    path = Path(path)
    df = validate(df, schema, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    df.write_csv(tmp) if path.suffix == ".csv" else df.write_parquet(tmp)
    tmp.replace(path)
    return df


def read_table(path: str | Path, schema: pa.DataFrameSchema) -> pl.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"table '{schema.name}' not found at {path}; run the stage that writes it first")
    fmt = "csv" if path.suffix == ".csv" else "parquet"
    try:
        frame = pl.read_csv(path) if fmt == "csv" else pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise TableError(
            f"{path}: table '{schema.name}' is not a readable {fmt} file (cut short or overwritten: {exc}); "
            f"restore it with `dvc checkout {path}` or re-run the stage that writes it"
        ) from None
    return validate(frame, schema, path)
