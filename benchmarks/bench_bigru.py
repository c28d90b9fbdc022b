"""Is the BiGRU kernel worth keeping? One full-shape training step with and without it.

    python benchmarks/bench_bigru.py [--models self,cross] [--rounds 5] [--steps 2]

Tri-modal AVT at IEMOCAP shapes (audio 1000x120, video 32x2048, text 128x300), batch 32 of
random inputs, one torch thread, model.kernels 'harness' (the CPU attention kernel) with
(a) the hand-written BiGRU kernel and (b) nn.GRU; also 'torch' (nn modules throughout).
Variants are interleaved round by round; the median seconds per step and the ratios are
printed (ratios only are comparable across machines).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from torch import nn

from bench_train import nn_gru  # the same nn.GRU ablation as the training benchmark
from harness.models import InputShapes, build_model
from harness.study import ModelConfig

SHAPES = InputShapes(1000, 120, 32, 2048, 300, 7, text_tokens=128)


def stepper(model: str, kernels: str, ctx, batch, y):
    torch.manual_seed(0)
    net = build_model(model, "AVT", SHAPES, ModelConfig(kernels=kernels))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        with ctx():
            loss = nn.functional.cross_entropy(net(batch), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="self,cross")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    batch = {"A": torch.randn(32, 1000, 120, generator=g), "V": torch.randn(32, 32, 2048, generator=g),
             "T": torch.randn(32, 128, 300, generator=g)}
    y = torch.randint(0, 7, (32,), generator=g)
    null = contextlib.nullcontext
    for model in args.models.split(","):
        variants = {"harness (BiGRU kernel)": stepper(model, "harness", null, batch, y),
                    "harness, nn.GRU": stepper(model, "harness", nn_gru, batch, y),
                    "torch": stepper(model, "torch", null, batch, y)}
        times = {k: [] for k in variants}
        for step in variants.values():
            step()  # warm-up
        for _ in range(args.rounds):
            for name, step in variants.items():
                for _ in range(args.steps):
                    t0 = time.perf_counter()
                    step()
                    times[name].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        base = med["harness, nn.GRU"]
        print(f"{model} AVT, batch 32, one thread (median of {args.rounds * args.steps} steps):")
        for name, t in med.items():
            print(f"  {name:24s} {t:6.3f} s/step  x{t / base:.3f} of 'harness, nn.GRU'")


if __name__ == "__main__":
    main()
