"""Training cost of the harness against the published procedure, at full IEMOCAP shapes.

    python benchmarks/bench_train.py [--data DIR] [--utterances 480] [--epochs 2]
        [--models self,cross] [--steps 2] [--rounds 1] [--skip-steps] [--skip-e2e]
    python benchmarks/bench_train.py --device cuda     # GPU: one epoch, float32 and bf16

Synthetic data in the real file format (`harness make-synthetic DIR --preset iemocap`:
1000x120 MFCC, 32x2048 video, 128 tokens x 300-d; 480 utterances = 336 train / 48 dev /
95 test in fold 1, about 1.7 GB) is written to DIR (default /tmp/harness-bench-iemocap480)
unless already there. Everything runs on one thread (torch.set_num_threads(1),
OMP_NUM_THREADS=1, threads_per_job 1).

1. Seconds per training step (forward, backward, Adam; batch 32 of the training split), for
   each model, interleaved over --rounds rounds, median reported, with the peak RSS of two
   steps above the RSS with model and batch built (VmHWM, each variant in a fresh process):
     published    the baseline's model (benchmarks/published_baseline.py), float64,
                  nn.MultiheadAttention with need_weights=True (its default)
     f32          the same, float32
     f32 nw=False the same, need_weights=False (fused SDPA; the harness before its CPU kernels)
     harness-gru  the harness model with its CPU attention kernel but nn.GRU
     harness      the harness model as it is (CPU attention kernel + BiGRU kernel)
2. End to end, per model: the WHOLE harness process (`harness run-study` on a one-run study,
   sequential backend, max_epochs = --epochs, patience large so exactly that many epochs)
   against the published procedure's training loop alone (published_baseline.py: float64,
   test split evaluated every epoch, torch.save/torch.load of the whole model), interleaved,
   each in its own process; wall seconds, ratio, and each child's peak RSS (VmHWM sampled
   every 0.1 s). Must hold: harness / baseline <= 1/2 for the tri-modal self run (goal 1/3).

With --device cuda it instead times one full-shape training epoch (plus the dev evaluation)
of self and cross on the GPU through the harness's own training code, float32 and bf16
autocast, after a warm-up epoch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MUST_HOLD, GOAL = 0.5, 1 / 3
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


# ----------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------
def harness_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("harness")
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())"]


def ensure_data(root: Path, utterances: int) -> Path:
    if (root / "SYNTHETIC.json").is_file():
        return root
    print(f"writing synthetic IEMOCAP-shaped data ({utterances} utterances) to {root} ...",
          flush=True)
    t0 = time.perf_counter()
    subprocess.run(harness_cmd() + ["make-synthetic", str(root), "--preset", "iemocap",
                                    "--utterances", str(utterances), "--quiet"], check=True)
    print(f"  done in {time.perf_counter() - t0:.1f} s", flush=True)
    return root


# ----------------------------------------------------------------------------------------
# 1. seconds per step
# ----------------------------------------------------------------------------------------
def _status_kb(field: str, pid="self") -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@contextlib.contextmanager
def nn_gru():
    """The harness model with nn.GRU instead of its BiGRU kernel (ablation)."""
    from harness.models import fusion

    saved = fusion.bigru
    fusion.bigru = lambda gru, x: gru(x)[0]
    try:
        yield
    finally:
        fusion.bigru = saved


def step_variants(model: str, shapes, fold):
    """name -> (build() -> module, dtype, context factory)."""
    import torch

    from harness.models import build_model
    from harness.study import ModelConfig
    from published_baseline import PublishedFusion

    def published(dtype, need_weights):
        def build():
            torch.manual_seed(0)
            net = PublishedFusion(model, "AVT", shapes.audio_frames, shapes.audio_dim,
                                  shapes.video_frames, shapes.video_dim, shapes.embed_dim, 7,
                                  need_weights=need_weights)
            return net.to(dtype)
        return build

    def harness_model():
        torch.manual_seed(0)
        return build_model(model, "AVT", shapes, ModelConfig())

    null = contextlib.nullcontext
    return {
        "published": (published(torch.float64, True), torch.float64, null),
        "f32": (published(torch.float32, True), torch.float32, null),
        "f32 nw=False": (published(torch.float32, False), torch.float32, null),
        "harness-gru": (harness_model, torch.float32, nn_gru),
        "harness": (harness_model, torch.float32, null),
    }


def _setup(data: Path):
    import numpy as np
    import torch

    from harness.data import iemocap
    from harness.models import InputShapes

    torch.set_num_threads(1)
    fold = iemocap.load_fold(data, 1, n_classes=7)
    s = fold.shapes
    shapes = InputShapes(s.audio_frames, s.audio_dim, s.video_frames, s.video_dim,
                         s.embed_dim, 7)
    rows = np.arange(32)
    y = torch.as_tensor(fold.train.labels[rows], dtype=torch.int64)  # labels are not in a batch
    batches = {dt: (fold.train.batch(rows, "AVT", dt), y) for dt in (torch.float32, torch.float64)}
    return fold, shapes, batches


def _stepper(build, dtype, ctx, batches):
    import torch
    from torch import nn

    net = build()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def one_step():
        b, y = batches[dtype]
        with ctx():
            loss = nn.functional.cross_entropy(net(b), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return one_step


def memory_probe(data: Path, model: str, variant: str) -> None:
    """In a fresh process: RSS before two training steps and the peak (VmHWM) after them."""
    fold, shapes, batches = _setup(data)
    build, dtype, ctx = step_variants(model, shapes, fold)[variant]
    step = _stepper(build, dtype, ctx, batches)
    before = _status_kb("VmRSS")
    step()
    step()
    print(json.dumps({"before_kb": before, "hwm_kb": _status_kb("VmHWM")}))


def time_steps(data: Path, models: list[str], steps: int, rounds: int) -> dict:
    import torch  # noqa: F401

    fold, shapes, batches = _setup(data)
    out: dict = {}
    for model in models:
        variants = step_variants(model, shapes, fold)
        for name in variants:  # peak memory of two steps, each variant in a fresh process
            probe = subprocess.run([sys.executable, __file__, "--data", str(data),
                                    "--_probe", model, name], capture_output=True, text=True,
                                   env={**os.environ, **ONE_THREAD}, check=True)
            mem = json.loads(probe.stdout.strip().splitlines()[-1])
            out.setdefault(model, {})[name] = {
                "rss_growth_mb": (mem["hwm_kb"] - mem["before_kb"]) / 1024}
        steppers = {name: _stepper(*v, batches) for name, v in variants.items()}
        for step in steppers.values():  # warm-up
            step()
        times = {name: [] for name in variants}
        for _ in range(rounds):
            for name, step in steppers.items():
                for _ in range(steps):
                    t0 = time.perf_counter()
                    step()
                    times[name].append(time.perf_counter() - t0)
        for name in variants:
            out[model][name]["s_per_step"] = statistics.median(times[name])
            out[model][name]["all"] = times[name]
        steppers.clear()
    return out


def print_steps(res: dict) -> None:
    print("\nseconds per training step, batch 32, one thread (median; ratio to 'published')")
    for model, rows in res.items():
        base = rows["published"]["s_per_step"]
        print(f"  {model}:")
        for name, r in rows.items():
            print(f"    {name:14s} {r['s_per_step']:7.3f} s/step  x{r['s_per_step'] / base:5.3f}"
                  f"   peak RSS over two steps {r['rss_growth_mb']:6.0f} MB above the model+batch")
        chain = list(rows)
        steps = ", ".join(f"{a} -> {b}: x{rows[b]['s_per_step'] / rows[a]['s_per_step']:.2f}"
                          for a, b in zip(chain, chain[1:]))
        print(f"    step ratios: {steps}")


# ----------------------------------------------------------------------------------------
# 2. end to end
# ----------------------------------------------------------------------------------------
def run_child(cmd: list[str], env: dict, cwd=None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, return code) of one child process.

    The peak is the child's VmHWM, sampled every 0.1 s (ru_maxrss of a child is not used: on
    Linux it includes the parent's RSS at the fork, carried over the exec).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd)
    hwm = 0
    while proc.poll() is None:
        hwm = max(hwm, _status_kb("VmHWM", proc.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    return wall, hwm / 1024, proc.returncode


def study_yaml(data: Path, model: str, epochs: int) -> str:
    return (f"name: bench-{model}\n"
            f"data:\n  format: iemocap_yoon\n  path: {data}\n"
            f"models: [{model}]\nmodalities: [AVT]\nfolds: [1]\nseeds: [1]\n"
            f"training:\n  max_epochs: {epochs}\n  patience: 1000000\n"
            f"execution:\n  backend: sequential\n  threads_per_job: 1\n  device: cpu\n")


def end_to_end(data: Path, models: list[str], epochs: int, rounds: int, work: Path) -> dict:
    env = {**os.environ, **ONE_THREAD}
    res: dict = {}
    for r in range(rounds):
        for model in models:
            study = work / f"{model}.yaml"
            study.write_text(study_yaml(data, model, epochs))
            results = work / "results"
            wall, rss, rc = run_child(harness_cmd() + ["run-study", str(study), "--results-dir",
                                                       str(results), "--no-report", "--quiet",
                                                       "--force"], env)
            if rc != 0:
                raise SystemExit(f"harness run-study failed (exit {rc})")
            run_dir = next((results / f"bench-{model}" / "runs").iterdir())
            result = json.loads((run_dir / "result.json").read_text())
            print(f"  harness  {model:5s}: whole process {wall:6.1f} s (training loop "
                  f"{result['train_seconds']:.1f} s, {result['epochs']} epochs), "
                  f"peak RSS {rss:5.0f} MB", flush=True)
            out_json = work / f"baseline-{model}.json"
            bwall, brss, rc = run_child(
                [sys.executable, str(HERE / "published_baseline.py"), str(data), "--model", model,
                 "--max-epochs", str(epochs), "--patience", "1000000", "--threads", "1",
                 "--json", str(out_json)], env)
            if rc != 0:
                raise SystemExit(f"published_baseline.py failed (exit {rc})")
            base = json.loads(out_json.read_text())
            print(f"  baseline {model:5s}: training loop {base['loop_seconds']:6.1f} s "
                  f"({base['epochs']} epochs; whole process {bwall:.1f} s, data load "
                  f"{base['load_seconds']:.1f} s), peak RSS {brss:5.0f} MB", flush=True)
            res.setdefault(model, []).append({
                "harness_wall": wall, "harness_train": result["train_seconds"],
                "harness_rss_mb": rss, "baseline_loop": base["loop_seconds"],
                "baseline_wall": bwall, "baseline_rss_mb": brss, "epochs": epochs})
    return res


def print_e2e(res: dict) -> bool:
    ok = True
    print("\nend to end (harness whole process / baseline training loop alone)")
    for model, rows in res.items():
        h = statistics.median(r["harness_wall"] for r in rows)
        b = statistics.median(r["baseline_loop"] for r in rows)
        ratio = h / b
        verdict = ""
        if model == "self":
            ok = ratio <= MUST_HOLD
            verdict = (f"  must hold <= {MUST_HOLD:.2f}: {'yes' if ok else 'NO'}; goal <= "
                       f"{GOAL:.2f}: {'met' if ratio <= GOAL else 'missed'}")
        print(f"  {model:5s}: {h:6.1f} s / {b:6.1f} s = {ratio:.3f}  (1/{1 / ratio:.1f}){verdict}")
    return ok


# ----------------------------------------------------------------------------------------
# GPU
# ----------------------------------------------------------------------------------------
def gpu_epochs(data: Path, models: list[str]) -> int:
    import torch

    if not torch.cuda.is_available():
        print("--device cuda: torch sees no CUDA device; nothing timed.")
        return 0
    from harness import train
    from harness.data import iemocap
    from harness.plan import make_plan
    from harness.study import parse_study

    fold = iemocap.load_fold(data, 1, n_classes=7)
    print(f"GPU: {torch.cuda.get_device_name(0)}; one epoch = {fold.train.n} training "
          f"utterances (batch 32) + dev evaluation ({fold.dev.n})")
    for model in models:
        for amp in ("none", "bf16"):
            study = parse_study({
                "name": "gpu", "data": {"format": "iemocap_yoon", "path": str(data)},
                "models": [model], "modalities": ["AVT"], "folds": [1], "seeds": [1],
                "training": {"max_epochs": 1, "patience": 1000000, "amp": amp},
                "execution": {"device": "cuda"}}, source="bench_train.py")
            spec = make_plan(study, "bench").runs[0]
            times = []
            for _ in range(2):  # the first epoch warms up CUDA / cuDNN
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                out = train.fit(spec, fold, "cuda")
                torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            print(f"  {model:5s} {'float32' if amp == 'none' else 'bf16 autocast':13s}: "
                  f"{times[-1]:6.2f} s/epoch (warm-up {times[0]:.2f} s; training "
                  f"{out.result['train_seconds']:.2f} s)", flush=True)
    return 0


# ----------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/harness-bench-iemocap480",
                    help="data root (made with harness make-synthetic if absent)")
    ap.add_argument("--utterances", type=int, default=480)
    ap.add_argument("--epochs", type=int, default=2, help="epochs of each end-to-end run")
    ap.add_argument("--models", default="self,cross")
    ap.add_argument("--steps", type=int, default=2, help="timed steps per variant and round")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved repetitions")
    ap.add_argument("--skip-steps", action="store_true")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--json", default=None, help="write all figures here")
    ap.add_argument("--_probe", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._probe:
        memory_probe(Path(args.data), *args._probe)
        return 0

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    data = ensure_data(Path(args.data), args.utterances)
    if args.device == "cuda":
        return gpu_epochs(data, models)
    os.environ.update(ONE_THREAD)
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
                    "data": str(data)}
    ok = True
    if not args.skip_steps:
        report["steps"] = time_steps(data, models, args.steps, args.rounds)
        print_steps(report["steps"])
    if not args.skip_e2e:
        print(f"\nend-to-end runs ({args.epochs} epochs each, one thread, interleaved):",
              flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-train-") as work:
            report["e2e"] = end_to_end(data, models, args.epochs, args.rounds, Path(work))
        ok = print_e2e(report["e2e"])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
