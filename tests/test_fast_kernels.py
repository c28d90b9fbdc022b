"""The CPU kernels of harness.models.kernels compute what nn.MultiheadAttention / nn.GRU compute.

attention_query_mean == MultiheadAttention(q, s, s)[0].mean(1) (values and gradients, with
and without dropout, for any chunking); bigru == nn.GRU(bidirectional)(x)[0].
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from harness.models import fusion, kernels
from harness.models.kernels import _QueryMeanAttention, attention_query_mean, bigru


def _grads(out, tensors):
    w = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    return torch.autograd.grad((out * w).sum(), tensors)


@pytest.mark.parametrize("tq,tk", [(7, 7), (5, 9), (9, 1), (3, 5)])
def test_attention_query_mean_equals_mha_without_dropout(tq, tk):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(12, 3, dropout=0.0, batch_first=True).double()
    q = torch.randn(4, tq, 12, dtype=torch.float64, requires_grad=True)
    s = q if tq == tk == 7 else torch.randn(4, tk, 12, dtype=torch.float64, requires_grad=True)
    ref = mha(q, s, s, need_weights=False)[0].mean(1)
    got = attention_query_mean(mha, q, s, training=True)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
    params = [q] + ([s] if s is not q else []) + list(mha.parameters())
    for a, b in zip(_grads(got, params), _grads(ref, params)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def _reference_with_mask(q, k, p, seed):
    """Column means of the dropped-out attention weights, by plain autograd operations."""
    n, tq, _ = q.shape
    w = torch.softmax(q @ k.transpose(1, 2), -1)
    if p > 0:
        m = w.numel()
        bits = np.random.Generator(np.random.SFC64(seed)).bit_generator
        u = bits.random_raw((m + 1) // 2).view(np.uint32)[:m]
        keep = torch.from_numpy(u >= np.uint32(round(p * 2**32))).view(w.shape)
        w = w * keep / (1 - p)
    return w.mean(1, keepdim=True)


@pytest.mark.parametrize("chunk_bytes", [1 << 20, 8 * 3 * 5, 8 * 3 * 5 * 3])
@pytest.mark.parametrize("p", [0.0, 0.3])
def test_query_mean_attention_kernel_and_gradients(monkeypatch, chunk_bytes, p):
    monkeypatch.setattr(kernels, "_CHUNK_BYTES", chunk_bytes)  # one or several slices per chunk
    g = torch.Generator().manual_seed(1)
    q = torch.randn(7, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(7, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    got = _QueryMeanAttention.apply(q, k, p, 123)
    ref = _reference_with_mask(q, k, p, 123)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
    for a, b in zip(_grads(got, [q, k]), _grads(ref, [q, k])):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a, b: _QueryMeanAttention.apply(a, b, p, 5), (q, k))


def test_dropout_keeps_the_right_fraction_and_is_seeded():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(12, 3, dropout=0.1, batch_first=True)
    x = torch.randn(8, 40, 12)
    torch.manual_seed(3)
    a = attention_query_mean(mha, x, x, training=True)
    torch.manual_seed(3)
    b = attention_query_mean(mha, x, x, training=True)
    c = attention_query_mean(mha, x, x, training=True)
    assert torch.equal(a, b) and not torch.equal(a, c)
    q = torch.randn(64, 50, 4, dtype=torch.float64)
    ones = torch.zeros(64, 50, 4, dtype=torch.float64)  # uniform weights 1/Tk
    c = _QueryMeanAttention.apply(q * 0, ones, 0.1, 9)  # mean over queries of keep/(0.9*Tk)
    kept = c * 0.9 * 50 * 50  # kept weights per column
    assert abs(kept.sum().item() / (64 * 50 * 50) - 0.9) < 0.005


@pytest.mark.parametrize("t_len", [1, 2, 13])
@pytest.mark.parametrize("input_grad", [True, False])
def test_bigru_equals_nn_gru(t_len, input_grad):
    torch.manual_seed(0)
    gru = nn.GRU(6, 5, batch_first=True, bidirectional=True).double()
    x = torch.randn(3, t_len, 6, dtype=torch.float64, requires_grad=input_grad)
    ref, got = gru(x)[0], bigru(gru, x)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
    params = ([x] if input_grad else []) + list(gru.parameters())
    for a, b in zip(_grads(got, params), _grads(ref, params)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_bigru_float32_close_to_nn_gru():
    torch.manual_seed(0)
    gru = nn.GRU(20, 8, batch_first=True, bidirectional=True)
    x = torch.randn(4, 50, 20)
    torch.testing.assert_close(bigru(gru, x), gru(x)[0], rtol=1e-5, atol=1e-5)


def test_model_eval_output_matches_nn_modules():
    """The whole model with the CPU kernels equals the same weights through nn modules."""
    from harness.models import InputShapes, build_model
    from harness.study import ModelConfig

    shapes = InputShapes(12, 8, 6, 10, 9, 7)
    torch.manual_seed(0)
    net = build_model("cross_self", "AVT", shapes, ModelConfig(hidden=6, heads=2, kernels="harness"))
    net = net.double().eval()
    g = torch.Generator().manual_seed(0)
    x = {"A": torch.randn(5, 12, 8, generator=g, dtype=torch.float64),
         "V": torch.randn(5, 6, 10, generator=g, dtype=torch.float64),
         "T": torch.randn(5, 11, 9, generator=g, dtype=torch.float64)}
    with torch.no_grad():
        got = net(x)
        seq = {m: (enc.gru(enc.mix(x[m]) if m != "T" else x[m])[0])
               for m, enc in net.encoders.items()}
        vec = torch.stack([net.blocks[q + s].attn(seq[q], seq[s], seq[s], need_weights=False)[0]
                           .mean(1) for q, s in net.pairs], dim=1)
        ref = net.classify(net.project(fusion.statistical_pooling(vec)))
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-10)
    assert math.isfinite(got.sum().item())
