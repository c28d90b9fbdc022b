"""The results folder: one folder per run, written atomically, and the runs table.

    results/<study>/
      study.yaml            the resolved spec that produced it (with the data fingerprint)
      plan.json             every planned run: run_id, model, modalities, fold, seed
      runs/<run_id>/        spec.json, predictions.npz, history.csv, [traceback.txt], result.json
      runs.csv              one row per finished planned run, rebuilt from runs/*, never edited

A run folder is assembled under runs/.tmp-*, with result.json written last, then renamed
into place, so a folder named after a run id is complete or absent. A killed study leaves
at most temp folders, which the next start removes. `runs.csv` is a view: rebuilt from the
run folders of the current plan (folders of runs no longer planned stay on disk, unlisted).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UserError
from .metrics import SUMMARY_METRICS
from .study import ALL_COMBINATIONS, MODEL_NAMES

RUN_COLUMNS = (
    ["run_id", "model", "modalities", "fold", "seed", "status", "epochs", "best_epoch",
     "train_seconds", "n_params", "device"]
    + [f"{split}_{m}" for split in ("dev", "test") for m in SUMMARY_METRICS]
    + ["error"]
)


class LockedError(UserError):
    pass


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, tuple):
        return list(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


class Store:
    """Reads and writes one study's results folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.runs_dir = self.root / "runs"

    # --- locking ------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self):
        """Exclusive lock on the folder for one run-study process.

        flock is released by the kernel when the holder dies, so a killed process never
        leaves a lock that blocks: the file may remain, the lock does not.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / ".lock"
        f = open(path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise LockedError(
                f"results folder {self.root} is in use by another run-study ({holder}). "
                "Wait for it to finish, or stop it; a killed process releases the lock."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()

    # --- study-level files --------------------------------------------------------------
    def write_study(self, study_yaml: str, plan_rows: list[dict]) -> None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.root / "study.yaml", study_yaml)
        atomic_write_json(self.root / "plan.json", {"runs": plan_rows})

    def clean_temp(self) -> int:
        """Remove leftovers of interrupted writes; returns how many."""
        if not self.runs_dir.is_dir():
            return 0
        stale = [p for p in self.runs_dir.iterdir() if p.name.startswith((".tmp-", ".old-"))]
        for p in stale:
            shutil.rmtree(p, ignore_errors=True)
        return len(stale)

    # --- runs -----------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def read_result(self, run_id: str) -> dict | None:
        path = self.run_dir(run_id) / "result.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # unreadable: treated as not done, redone

    def status(self, run_id: str) -> str | None:
        r = self.read_result(run_id)
        return r.get("status") if r else None

    def save(self, spec_dict: dict, outcome) -> Path:
        """Write one run's folder atomically (result.json last, then one rename)."""
        run_id = outcome.result["run_id"]
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.runs_dir, prefix=f".tmp-{run_id}-"))
        try:
            (tmp / "spec.json").write_text(json.dumps(spec_dict, indent=2, sort_keys=True, default=_json_default))
            if outcome.predictions:
                with open(tmp / "predictions.npz", "wb") as f:
                    np.savez_compressed(f, **outcome.predictions)
            if outcome.history:
                pd.DataFrame(outcome.history).to_csv(tmp / "history.csv", index=False)
            if outcome.traceback:
                (tmp / "traceback.txt").write_text(outcome.traceback)
            with open(tmp / "result.json", "w") as f:
                json.dump(outcome.result, f, indent=2, sort_keys=True, default=_json_default)
                f.flush()
                os.fsync(f.fileno())
            final = self.run_dir(run_id)
            if final.exists():  # a failed run re-tried, or --force
                old = self.runs_dir / f".old-{run_id}-{os.getpid()}"
                os.rename(final, old)
                os.rename(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, final)
            return final
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    # --- the runs table -------------------------------------------------------------------
    def collect(self, run_ids) -> pd.DataFrame:
        rows = []
        for run_id in run_ids:
            r = self.read_result(run_id)
            if r is None:
                continue
            row = {k: r.get(k) for k in RUN_COLUMNS}
            for split in ("dev", "test"):
                m = (r.get("metrics") or {}).get(split) or {}
                for name in SUMMARY_METRICS:
                    row[f"{split}_{name}"] = m.get(name)
            rows.append(row)
        df = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
        return sort_runs(df)

    def write_runs_table(self, run_ids) -> pd.DataFrame:
        df = self.collect(run_ids)
        atomic_write_text(self.root / "runs.csv", df.to_csv(index=False, quoting=csv.QUOTE_MINIMAL))
        return df


def sort_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Paper order: model registry order, then A, V, T, AV, AT, VT, AVT, fold, seed."""
    if df.empty:
        return df.reset_index(drop=True)
    order = df.assign(
        _m=df["model"].map({m: i for i, m in enumerate(MODEL_NAMES)}),
        _c=df["modalities"].map({c: i for i, c in enumerate(ALL_COMBINATIONS)}),
    ).sort_values(["_m", "_c", "fold", "seed"], kind="stable")
    return order.drop(columns=["_m", "_c"]).reset_index(drop=True)


def read_runs_table(results_dir: str | os.PathLike) -> pd.DataFrame:
    """runs.csv of a results folder, checked; UserError naming the file when unusable."""
    path = Path(results_dir) / "runs.csv"
    if not Path(results_dir).is_dir():
        raise UserError(f"results folder {results_dir} does not exist.")
    if not path.is_file():
        raise UserError(f"{path} is missing: is {results_dir} a results folder written by "
                        "'harness run-study'?")
    try:
        df = pd.read_csv(path, dtype={"modalities": str, "run_id": str})
    except Exception as exc:
        raise UserError(f"{path} is not a readable CSV table: {exc}") from None
    missing = [c for c in ("model", "modalities", "fold", "seed", "status") if c not in df.columns]
    if missing:
        raise UserError(f"{path} lacks the column(s) {', '.join(missing)}; expected the columns "
                        f"{', '.join(RUN_COLUMNS)}.")
    return df
