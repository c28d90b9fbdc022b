"""The published training procedure, re-implemented plainly: the yardstick for bench_train.py.

    python benchmarks/published_baseline.py DATA_ROOT [--model self|cross] [--modalities AVT]
        [--fold 1] [--seed 1] [--max-epochs N] [--patience 10] [--threads 1] [--json OUT]

What it does (Rajan, Brutti & Cavallaro, ICASSP 2022; smartcameras/SelfCrossAttn), on the
same data files the harness reads (Yoon et al. layout, here usually synthetic):

* every split loaded whole into memory as float64 tensors, the text embeddings looked up in
  advance ([N, 128, 300]), fed through ``torch.utils.data.DataLoader`` over a
  ``TensorDataset`` (batch 32, training batches shuffled);
* the model in float64: per modality a kernel-1 Conv1d mixing frames and a BiGRU (text:
  embedding dropout 0.25 then a BiGRU), one ``nn.MultiheadAttention`` (6 heads, dropout 0.1)
  per attended pair called as ``attn(q, s, s)`` (so it also computes and returns the
  head-averaged attention weights: ``need_weights`` defaults to True), the mean over time,
  statistical pooling (mean and unbiased std over the pairs), Linear(240, 60), Linear(60, 7);
* Adam (lr 1e-3), cross-entropy, ReduceLROnPlateau on the dev loss (patience 10, factor
  0.1), early stopping after ``patience`` epochs without a better dev accuracy;
* the dev AND the test split evaluated after every epoch; the whole model saved to disk
  (``torch.save(model)``) at every dev-accuracy improvement and loaded back for the final
  test evaluation.

It exists only to be timed against the harness; it is not used by the harness. Utterances
whose video_seqN is 0 are dropped, as the harness's reader does, so both see the same data.
``--max-epochs`` caps training (the published code has no cap) so that a benchmark can run
both for exactly the same number of epochs (with a large ``--patience``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

MODALITIES = "AVT"


class FrameMixGRU(nn.Module):
    """Conv1d over frames-as-channels (kernel 1), then a bidirectional GRU."""

    def __init__(self, frames_in, frames_out, dim, hidden):
        super().__init__()
        self.conv = nn.Conv1d(frames_in, frames_out, kernel_size=1)
        self.gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)

    def forward(self, x):
        out, _ = self.gru(self.conv(x))
        return out


class TextGRU(nn.Module):
    def __init__(self, dim, hidden, dropout):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)

    def forward(self, x):
        out, _ = self.gru(self.drop(x))
        return out


class PublishedFusion(nn.Module):
    """Self- or cross-attention fusion with statistical pooling (the published models)."""

    def __init__(self, model, modalities, audio_frames, audio_dim, video_frames, video_dim,
                 embed_dim, n_classes, hidden=60, heads=6, attn_dropout=0.1, text_dropout=0.25,
                 proj_dim=60, need_weights=True):
        super().__init__()
        self.need_weights = need_weights  # True as published; False only for bench_train's ablation
        self.mods = [m for m in MODALITIES if m in modalities]
        if model == "self":
            self.pairs = [(m, m) for m in self.mods]
        elif model == "cross":
            self.pairs = [(t, s) for t in self.mods for s in self.mods if s != t]
        else:
            raise ValueError(f"model must be self or cross, got {model!r}")
        enc = {}
        if "A" in self.mods:
            enc["A"] = FrameMixGRU(audio_frames, audio_frames // 2, audio_dim, hidden)
        if "V" in self.mods:
            enc["V"] = FrameMixGRU(video_frames, round(video_frames * 25 / 32), video_dim, hidden)
        if "T" in self.mods:
            enc["T"] = TextGRU(embed_dim, hidden, text_dropout)
        self.enc = nn.ModuleDict(enc)
        width = 2 * hidden
        self.attn = nn.ModuleDict({q + s: nn.MultiheadAttention(width, heads, dropout=attn_dropout,
                                                                batch_first=True)
                                   for q, s in self.pairs})
        self.proj = nn.Linear(2 * width, proj_dim)
        self.out = nn.Linear(proj_dim, n_classes)

    def forward(self, feats):
        seq = {m: self.enc[m](feats[m]) for m in self.mods}
        outs = []
        for q, s in self.pairs:
            o, _weights = self.attn[q + s](seq[q], seq[s], seq[s], need_weights=self.need_weights)
            outs.append(o.mean(dim=1))
        v = torch.stack(outs, dim=1)
        std = v.std(dim=1, unbiased=True) if v.shape[1] > 1 else torch.zeros_like(v[:, 0])
        return self.out(self.proj(torch.cat([v.mean(dim=1), std], dim=-1)))


def load_split(fold_dir: Path, split: str, embedding: np.ndarray):
    """Whole split in memory, float64, embeddings looked up: (audio, video, text, labels)."""
    ld = lambda key: np.load(fold_dir / f"{split}_{key}.npy")  # noqa: E731
    keep = ld("video_seqN") != 0
    audio = torch.from_numpy(ld("audio_mfcc")[keep].astype(np.float64))
    video = torch.from_numpy(ld("video")[keep].astype(np.float64))
    text = torch.from_numpy(embedding[ld("nlp_trans")[keep]].astype(np.float64))
    labels = torch.from_numpy(ld("label")[keep].astype(np.int64))
    return audio, video, text, labels


def evaluate(model, loader, mods):
    model.eval()
    loss, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for a, v, t, y in loader:
            logits = model({"A": a, "V": v, "T": t} if mods == "AVT" else
                           {m: x for m, x in zip("AVT", (a, v, t)) if m in mods})
            loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            n += len(y)
    return loss / n, correct / n


def train(args) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    fold_dir = Path(args.data) / f"fold{args.fold:02d}"

    t_load = time.perf_counter()
    embedding = np.load(fold_dir / "W_embedding.npy")
    splits = {s: load_split(fold_dir, s, embedding) for s in ("train", "dev", "test")}
    a, v, t, _ = splits["train"]
    n_classes = 7
    loaders = {s: DataLoader(TensorDataset(*splits[s]), batch_size=32, shuffle=(s == "train"))
               for s in splits}
    t_load = time.perf_counter() - t_load

    model = PublishedFusion(args.model, args.modalities, a.shape[1], a.shape[2], v.shape[1],
                            v.shape[2], t.shape[2], n_classes).double()
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=10)
    mods = "".join(m for m in MODALITIES if m in args.modalities)
    ckpt_dir = tempfile.mkdtemp(prefix="published-baseline-")
    ckpt = os.path.join(ckpt_dir, "best_model.pt")

    t0 = time.perf_counter()
    best_acc, wait, epochs, history = -1.0, 0, 0, []
    for epoch in range(1, args.max_epochs + 1):
        model.train()
        te = time.perf_counter()
        for a, v, t, y in loaders["train"]:
            feats = {m: x for m, x in zip("AVT", (a, v, t)) if m in mods}
            loss = nn.functional.cross_entropy(model(feats), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        t_train = time.perf_counter() - te
        dev_loss, dev_acc = evaluate(model, loaders["dev"], mods)
        test_loss, test_acc = evaluate(model, loaders["test"], mods)  # every epoch, as published
        sched.step(dev_loss)
        epochs = epoch
        history.append({"epoch": epoch, "train_s": t_train, "epoch_s": time.perf_counter() - te,
                        "dev_acc": dev_acc, "test_acc": test_acc})
        if dev_acc > best_acc:
            best_acc, wait = dev_acc, 0
            torch.save(model, ckpt)  # the whole model, at every improvement
        else:
            wait += 1
            if wait >= args.patience:
                break
    model = torch.load(ckpt, weights_only=False)
    test_loss, test_acc = evaluate(model, loaders["test"], mods)
    loop_s = time.perf_counter() - t0
    os.remove(ckpt)
    os.rmdir(ckpt_dir)
    return {"model": args.model, "modalities": mods, "epochs": epochs, "n_params": n_params,
            "load_seconds": t_load, "loop_seconds": loop_s, "best_dev_accuracy": best_acc,
            "test_accuracy": test_acc, "test_loss": test_loss, "history": history}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="data root holding fold01..")
    ap.add_argument("--model", default="self", choices=["self", "cross"])
    ap.add_argument("--modalities", default="AVT")
    ap.add_argument("--fold", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-epochs", type=int, default=200)
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="write the result here as JSON")
    args = ap.parse_args(argv)
    out = train(args)
    text = json.dumps(out, indent=1)
    if args.json:
        Path(args.json).write_text(text)
    print(f"published baseline {out['model']} {out['modalities']}: {out['epochs']} epochs, "
          f"training loop {out['loop_seconds']:.1f} s (data load {out['load_seconds']:.1f} s), "
          f"test accuracy {out['test_accuracy']:.3f}, {out['n_params']:,} parameters",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
