"""Memory a study on an MMSA pickle needs: peak RSS of loading it and of 2 loky workers training.

Writes a synthetic MMSA pickle with CMU-MOSEI's sizes (MMSA unaligned_50.pkl: 16326 / 1871 /
4659 utterances; text 50x768, audio 500x74, vision 375x35, float32; ``--scale`` multiplies
the utterance counts, ``--text-dim 300`` gives GloVe-sized text), then measures in fresh
processes:

1. the first load: unpickle, write the shared .npy cache, run every check (what run-study's
   parent does once; without the cache every worker would hold this much);
2. a second load: memory-map the cache and run every check (what each worker does);
3. two loky workers that each load the fold through the corpus registry and train the
   self-attention model on AVT for a few batches: peak RSS, and the private part of it
   (the rest is the page cache the workers share).

    python benchmarks/bench_mmsa_memory.py --scale 0.25      # ~2 GB pickle
    python benchmarks/bench_mmsa_memory.py                   # full size, ~8 GB: needs ~20 GB RAM
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GB = 2**30


def _rss_gb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would carry the parent's
    peak across fork + exec on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / GB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _private_gb() -> float:
    """Private (unshared) resident memory of this process, from /proc/self/smaps_rollup."""
    fields = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        k, v = line.split(":")
        fields[k] = int(v.split()[0])
    return (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) * 1024 / GB


def _study(path: Path):
    from harness.study import parse_study

    return parse_study({"name": "bench", "data": {"format": "mmsa", "path": str(path)},
                        "models": ["self"], "modalities": ["AVT"], "folds": 1, "seeds": 1})


def child_load(path: str) -> None:
    """In a fresh process: open, check and load the fold; print JSON figures."""
    import torch  # noqa: F401 - in the baseline too

    from harness.data import corpus

    if path == "-":        # baseline: imports only
        print(json.dumps({"seconds": 0.0, "peak_rss_gb": _rss_gb(), "private_gb": _private_gb()}))
        return

    t0 = time.perf_counter()
    c = corpus.open_corpus(_study(Path(path)))
    c.check((1,), "AVT")
    fold = c.load_fold(1)
    print(json.dumps({"seconds": time.perf_counter() - t0, "peak_rss_gb": _rss_gb(),
                      "private_gb": _private_gb(), "train": len(fold.train)}))


def _worker(ref, steps: int) -> dict:
    """A loky worker: load the fold through the registry, train a few batches of self/AVT."""
    import numpy as np
    import torch

    from harness.data.corpus import load_run_fold
    from harness.models import build_model
    from harness.study import ModelConfig

    torch.set_num_threads(1)
    fold = load_run_fold(ref, 1)
    model = build_model("self", "AVT", fold.shapes, ModelConfig())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        rows = rng.choice(len(fold.train), 32, replace=False)
        loss = torch.nn.functional.cross_entropy(
            model(fold.train.batch(rows, "AVT")), torch.from_numpy(fold.train.labels[rows]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"peak_rss_gb": _rss_gb(), "private_gb": _private_gb()}


def _run_child(path: Path | None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(path or "-")], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="utterance counts x this")
    ap.add_argument("--text-dim", type=int, default=None, help="768 (BERT, default) or 300")
    ap.add_argument("--steps", type=int, default=4, help="training batches per worker")
    ap.add_argument("--dir", default=None, help="where to write (default: a temp folder)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_load(args.child)

    from joblib import Parallel, delayed

    from harness.data.synthetic_mmsa import PRESETS, make_synthetic_mmsa
    from harness.plan import make_plan

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        t0 = time.perf_counter()
        path = make_synthetic_mmsa(Path(tmp) / "mosei_like.pkl", preset="mosei",
                                   scale=args.scale, text_dim=args.text_dim)
        cfg = PRESETS["mosei"]
        text = (cfg["text"][0], args.text_dim or cfg["text"][1])
        print(f"pickle: MOSEI-like x{args.scale:g} (train/valid/test "
              f"{', '.join(str(max(20, round(cfg[s] * args.scale))) for s in ('train', 'valid', 'test'))}; "
              f"text {text[0]}x{text[1]}, audio {cfg['audio'][0]}x{cfg['audio'][1]}, vision "
              f"{cfg['vision'][0]}x{cfg['vision'][1]}, float32): "
              f"{path.stat().st_size / GB:.2f} GB, written in {time.perf_counter() - t0:.0f} s")
        size = path.stat().st_size / GB
        first = _run_child(path)
        second = _run_child(path)
        ref = make_plan(_study(path), "bench").runs[0].data
        workers = Parallel(n_jobs=2, backend="loky")(delayed(_worker)(ref, args.steps)
                                                     for _ in range(2))
        rows = [("first load: unpickle + write .npy cache + checks", first),
                ("later load: map the cache + checks (each worker)", second)]
        rows += [(f"loky worker {i + 1}: load + {args.steps} training batches", w)
                 for i, w in enumerate(workers)]
        base = _run_child(None)
        rows.insert(0, ("baseline: python + torch + harness imported", base))
        print(f"{'process':<52}{'peak RSS GB':>12}{'private GB':>12}   (pickle {size:.2f} GB)")
        for name, r in rows:
            print(f"{name:<52}{r['peak_rss_gb']:>12.2f}{r['private_gb']:>12.2f}")
        print(f"first load took {first['seconds']:.0f} s, a later one {second['seconds']:.0f} s; "
              f"first load / pickle size: {(first['peak_rss_gb'] - base['peak_rss_gb']) / size:.2f}, "
              f"worker peak above baseline / pickle size: "
              f"{(max(w['peak_rss_gb'] for w in workers) - base['peak_rss_gb']) / size:.2f}")


if __name__ == "__main__":
    main()
