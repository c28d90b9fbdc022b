"""Resident memory of each loky worker while a 2-run study trains at full IEMOCAP shapes.

    python benchmarks/bench_memory.py [--data DIR] [--utterances 480] [--epochs 1]

Runs `harness run-study` on a study of 2 runs (self and cross, tri-modal, fold 1) with
backend loky, jobs 2, threads_per_job 1, on synthetic data in the real file format (made
with `harness make-synthetic --preset iemocap` unless present; default
/tmp/harness-bench-iemocap480). While it trains, every 0.25 s it reads, for every
descendant process of the command, /proc/<pid>/status (VmRSS, VmHWM, RssAnon, RssFile,
RssShmem) and /proc/<pid>/smaps (resident pages of mappings of the data files), and keeps
each process's peaks. It prints per worker: peak RSS (VmHWM), the anonymous (private) and
file-backed shares at the sample where RSS peaked, and the largest resident size of the
memory-mapped data files. The data files are read through read-only memory maps: their
pages are the page cache, shared between workers (and counted in each worker's RssFile);
a private copy of the corpus would show up as RssAnon of the corpus's size instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_train import ONE_THREAD, ensure_data, harness_cmd  # noqa: E402

FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem")


def children_of(root: int) -> list[int]:
    """Every descendant pid of ``root`` (from /proc/<pid>/stat)."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = [], [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.extend(kids)
        frontier.extend(kids)
    return out


def status_kb(pid: int) -> dict | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    out = {}
    for line in lines:
        key = line.split(":", 1)[0]
        if key in FIELDS:
            out[key] = int(line.split()[1])
    return out


def mapped_data_kb(pid: int, data_root: str) -> int:
    """Resident kB of this process's mappings of files under the data root."""
    total, inside = 0, False
    try:
        with open(f"/proc/{pid}/smaps") as fh:
            for line in fh:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):  # a mapping header line
                    inside = data_root in line
                elif inside and first == "Rss:":
                    total += int(line.split()[1])
    except OSError:
        return 0
    return total


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def study_yaml(data: Path, epochs: int) -> str:
    return (f"name: bench-memory\n"
            f"data:\n  format: iemocap_yoon\n  path: {data}\n"
            f"models: [self, cross]\nmodalities: [AVT]\nfolds: [1]\nseeds: [1]\n"
            f"training:\n  max_epochs: {epochs}\n  patience: 1000000\n"
            f"execution:\n  backend: loky\n  jobs: 2\n  threads_per_job: 1\n  device: cpu\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/harness-bench-iemocap480")
    ap.add_argument("--utterances", type=int, default=480)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--interval", type=float, default=0.25)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    data = ensure_data(Path(args.data), args.utterances).resolve()
    fold = data / "fold01"
    corpus_mb = sum(p.stat().st_size for p in fold.glob("*.npy")) / 2**20
    env = {**os.environ, **ONE_THREAD}
    peaks: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as work:
        study = Path(work) / "study.yaml"
        study.write_text(study_yaml(data, args.epochs))
        t0 = time.perf_counter()
        proc = subprocess.Popen(harness_cmd() + ["run-study", str(study), "--results-dir",
                                                 str(Path(work) / "results"), "--no-report",
                                                 "--quiet", "--force"], env=env)
        while proc.poll() is None:
            for pid in [proc.pid] + children_of(proc.pid):
                st = status_kb(pid)
                if not st or "VmRSS" not in st:
                    continue
                p = peaks.setdefault(pid, {"cmd": cmdline(pid), "VmHWM": 0, "VmRSS": 0,
                                           "mapped_data": 0, "at_peak": {}})
                p["VmHWM"] = max(p["VmHWM"], st.get("VmHWM", 0))
                if st["VmRSS"] >= p["VmRSS"]:
                    p["VmRSS"], p["at_peak"] = st["VmRSS"], st
                p["mapped_data"] = max(p["mapped_data"], mapped_data_kb(pid, str(data)))
            time.sleep(args.interval)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"harness run-study failed (exit {proc.returncode})")

    mb = lambda kb: kb / 1024  # noqa: E731
    workers = {pid: p for pid, p in peaks.items()
               if pid != proc.pid and p["VmHWM"] > 200 * 1024}  # skip tiny helpers
    print(f"2 runs (self, cross; AVT), jobs 2 (loky), {args.epochs} epoch(s), one thread per "
          f"job: {wall:.0f} s. Fold-1 data files: {corpus_mb:.0f} MB on disk.")
    main_p = peaks.get(proc.pid, {})
    print(f"  main process        peak RSS {mb(main_p.get('VmHWM', 0)):6.0f} MB")
    for i, (pid, p) in enumerate(sorted(workers.items()), 1):
        a = p["at_peak"]
        print(f"  worker {i} (pid {pid}) peak RSS {mb(p['VmHWM']):6.0f} MB; at the peak sample: "
              f"private (RssAnon) {mb(a.get('RssAnon', 0)):6.0f} MB, file-backed (RssFile) "
              f"{mb(a.get('RssFile', 0)):6.0f} MB; data files mapped and resident up to "
              f"{mb(p['mapped_data']):5.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps({"wall": wall, "corpus_mb": corpus_mb,
                                               "processes": {str(k): v for k, v in peaks.items()}},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
