"""Compare a study's results with a committed baseline; name every cell that moved.

The baseline is a small CSV, sorted, one row per run (level "run": model, modalities, fold,
seed) and one per configuration (level "config": the mean over its runs), readable in a
code review. Counts (epochs, best epoch, correct test/dev predictions) are compared
exactly; metric fractions within `atol`. The current side is what is in runs/ (read and
checked by `harness.table`), never the runs.csv view: an edited result.json is seen, and a
run whose files disagree is a regression (it is left out, and the disagreement printed).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from . import table
from .errors import UserError
from .io import atomic_write_text

KEY = ["level", "model", "modalities", "fold", "seed"]
COUNTS = ["epochs", "best_epoch", "test_correct", "dev_correct"]
EXACT = ["status"] + COUNTS
METRICS = [f"{s}_{m}" for s in ("test", "dev") for m in
           ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")]
COLUMNS = KEY + ["study"] + EXACT + METRICS
# Default tolerance for metric cells. CPU training here is bit-for-bit deterministic for a
# fixed thread count (across processes and backends, measured; 1 vs 2 threads differ); what is left is the
# 6-decimal rounding of the baseline file. A different CPU or library version can move a
# run more than that: compare with a larger --atol there, or refresh the baseline.
DEFAULT_ATOL = 1e-6


def baseline_frame(folder: table.ResultsFolder) -> pd.DataFrame:
    """The baseline rows for a results folder: every run, then configuration means."""
    models = folder.study.models if folder.study is not None else ()
    runs = folder.runs.copy()
    dev_n = [((folder.result(r) or {}).get("metrics") or {}).get("dev", {}).get("n")
             for r in runs["run_id"]]
    runs["test_correct"] = (runs["test_accuracy"] * runs["n_test"]).round()
    runs["dev_correct"] = (runs["dev_accuracy"] * pd.to_numeric(pd.Series(dev_n, index=runs.index,
                                                                          dtype=object))).round()
    runs["level"] = "run"
    ok = runs[runs["status"] == "ok"]
    config = (ok.groupby(["model", "modalities"], sort=False)[METRICS].mean().reset_index())
    config["level"] = "config"
    config["status"] = "ok"
    frame = pd.concat([table.sort_runs(runs, models),
                       table.sort_runs(config.assign(fold=np.nan, seed=np.nan), models)],
                      ignore_index=True)
    frame["study"] = _study_name(folder)
    frame = frame.reindex(columns=COLUMNS)
    frame[METRICS] = frame[METRICS].astype(float).round(6)
    for c in ["fold", "seed"] + COUNTS:
        frame[c] = frame[c].astype("Int64")
    return frame


def _study_name(folder: table.ResultsFolder) -> str:
    return folder.study.name if folder.study is not None else folder.dir.name


def read_baseline(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"baseline {path} does not exist. Create it with "
                        f"'harness regress RESULTS_DIR --baseline {path} --update'.")
    try:
        df = pd.read_csv(path, dtype={"modalities": str, "status": str, "level": str, "study": str})
    except Exception as exc:
        raise UserError(f"baseline {path} is not a readable CSV file: {exc}") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise UserError(f"baseline {path} lacks the column(s) {', '.join(missing)}; a baseline "
                        f"has the columns {', '.join(COLUMNS)}.")
    bad = set(df["level"]) - {"run", "config"}
    if bad:
        raise UserError(f"baseline {path}: column 'level' must be 'run' or 'config'; found {sorted(bad)}.")
    try:
        df[METRICS] = df[METRICS].astype(float)
        for c in ["fold", "seed"] + COUNTS:
            df[c] = df[c].astype("Int64")
    except (ValueError, TypeError) as exc:
        raise UserError(f"baseline {path} has a non-numeric value in a numeric column: {exc}") from None
    return df[COLUMNS]


def compare(baseline: pd.DataFrame, current: pd.DataFrame, atol: float) -> pd.DataFrame:
    """Every cell that moved: key, column, old, new, difference; plus missing/extra rows."""
    b = baseline.set_index(KEY)
    c = current.set_index(KEY)
    rows = []
    for key in b.index.difference(c.index, sort=False):
        rows.append((*key, "(row)", "present", "missing", ""))
    for key in c.index.difference(b.index, sort=False):
        rows.append((*key, "(row)", "absent", "extra", ""))
    common = b.index.intersection(c.index, sort=False)
    for col in EXACT + METRICS:
        old, new = b.loc[common, col], c.loc[common, col]
        if col in METRICS:
            o, n = old.astype(float).to_numpy(), new.astype(float).to_numpy()
            moved = ~(np.isclose(o, n, rtol=0, atol=atol) | (np.isnan(o) & np.isnan(n)))
        else:
            moved = ~((old == new).fillna(False) | (old.isna() & new.isna())).to_numpy(dtype=bool)
        for key, o_val, n_val in zip(common[moved], old[moved], new[moved]):
            diff = ""
            if col not in ("status",) and pd.notna(o_val) and pd.notna(n_val):
                diff = f"{float(n_val) - float(o_val):+.6g}"
            rows.append((*key, col, _cell(col, o_val), _cell(col, n_val), diff))
    out = pd.DataFrame(rows, columns=KEY + ["column", "old", "new", "difference"])
    return out


def _cell(col: str, value) -> str:
    """A value as printed: counts as integers (146, not 146.000000), metrics to 6 places."""
    if pd.isna(value):
        return "(none)"
    if col in COUNTS:
        return str(int(value))
    if col in METRICS:
        return f"{float(value):.6f}"
    return str(value)


def _fmt_key(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in ("fold", "seed"):
        df[c] = df[c].map(lambda v: "" if pd.isna(v) else str(int(v)))
    return df


def regress(results_dir, baseline_path, *, update: bool = False, atol: float | None = None,
            quiet: bool = False) -> int:
    """0 when every cell holds, 1 on any regression, UserError (exit 2) on bad input."""
    atol = DEFAULT_ATOL if atol is None else atol
    if atol < 0:
        raise UserError(f"--atol must be a non-negative number. Got {atol} instead.")
    folder = table.load(results_dir)
    current = baseline_frame(folder)
    baseline_path = Path(baseline_path)
    if update:
        if folder.problems:
            raise UserError(f"{folder.dir} is not written as a baseline: its files disagree:\n  "
                            + "\n  ".join(folder.problems))
        return _update(current, baseline_path, quiet)
    baseline = read_baseline(baseline_path)
    studies = set(baseline["study"].dropna()) - {_study_name(folder)}
    if studies:
        raise UserError(f"baseline {baseline_path} is for study {sorted(studies)[0]!r}, but "
                        f"{results_dir} holds study {_study_name(folder)!r}.")
    moved = compare(baseline, current, atol)
    for problem in folder.problems:  # such a run is left out: it shows as a missing row too
        print(f"regress: {problem}", file=sys.stderr)
    if moved.empty and not folder.problems:
        if not quiet:
            print(f"regress: all {len(baseline)} rows of {baseline_path} hold "
                  f"(metrics within atol={atol:g}, counts exact).")
        return 0
    if not moved.empty:
        print(f"regress: {len(moved)} cell(s) moved beyond atol={atol:g} against {baseline_path}:",
              file=sys.stderr)
        print(_fmt_key(moved).to_string(index=False), file=sys.stderr)
    return 1


def _update(current: pd.DataFrame, baseline_path: Path, quiet: bool) -> int:
    """Write the baseline; say which cells changed against the previous one."""
    changes = None
    if baseline_path.is_file():
        try:
            changes = compare(read_baseline(baseline_path), current, atol=0)
        except UserError:
            changes = None
    baseline_path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    current.to_csv(buf, index=False, float_format="%.6f", lineterminator="\n")
    atomic_write_text(baseline_path, buf.getvalue())
    if not quiet:
        what = ("new baseline" if changes is None else
                f"{len(changes)} cell(s) changed" if len(changes) else "no cell changed")
        print(f"wrote {baseline_path} ({len(current)} rows; {what})")
        if changes is not None and len(changes):
            print(_fmt_key(changes).to_string(index=False))
    return 0
