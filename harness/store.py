"""The results folder: one folder per run, written atomically, and the runs table.

    results/<study>/
      study.yaml            the resolved spec that produced it (with the data fingerprint)
      plan.json             every planned run: run_id, model, modalities, fold, seed
      runs/<run_id>/        spec.json, predictions.npz, history.csv, [traceback.txt], result.json
      runs.csv              one row per finished planned run, rebuilt from runs/*, never edited

A run folder is assembled under runs/.tmp-*, with result.json written last, then renamed
into place, so a folder named after a run id is complete or absent. A killed study leaves
at most temp folders, which the next start removes. `runs.csv` is a view for humans, rebuilt
through `harness.table` from the run folders of the current plan (folders of runs no longer
planned stay on disk, unlisted); nothing reads it back. This module only writes: every read
of a results folder goes through `harness.table`.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import table
from .errors import UserError
from .io import atomic_write_json, atomic_write_text, to_json


class LockedError(UserError):
    pass


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

    def status(self, run_id: str) -> str | None:
        """'ok', 'failed', or None when the run has no readable result.json (not done)."""
        r = table.read_result(self.run_dir(run_id))
        return r.get("status") if r else None

    def done(self, spec) -> bool:
        """True when the run has an ok result.json that its folder agrees with.

        A folder whose files disagree (`table.check_run`: epochs above max_epochs, metrics
        contradicting predictions.npz, ...) is not trusted: it is said on stderr and redone.
        """
        if self.status(spec.run_id) != "ok":
            return False
        problems = table.check_run(self.run_dir(spec.run_id), spec)
        for problem in problems:
            print(f"warning: {problem}; the run is trained again.", file=sys.stderr)
        return not problems

    def save(self, spec_dict: dict, outcome) -> Path:
        """Write one run's folder atomically (result.json last, then one rename)."""
        run_id = outcome.result["run_id"]
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.runs_dir, prefix=f".tmp-{run_id}-"))
        try:
            (tmp / "spec.json").write_text(to_json(spec_dict))
            if outcome.predictions:
                with open(tmp / "predictions.npz", "wb") as f:
                    np.savez_compressed(f, **outcome.predictions)
            if outcome.history:
                pd.DataFrame(outcome.history).to_csv(tmp / "history.csv", index=False)
            if outcome.traceback:
                (tmp / "traceback.txt").write_text(outcome.traceback)
            with open(tmp / "result.json", "w") as f:
                f.write(to_json(outcome.result))
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

    # --- the runs table (a view for humans; analysis reads the run folders through table) --
    def write_runs_table(self, run_ids) -> pd.DataFrame:
        """Rebuild runs.csv from the run folders of `run_ids` (those with a result.json)."""
        runs = table.runs_frame(self.root, run_ids)
        atomic_write_text(self.root / "runs.csv", runs.to_csv(index=False, quoting=csv.QUOTE_MINIMAL))
        return runs
