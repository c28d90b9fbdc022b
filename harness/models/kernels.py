"""CPU-friendly kernels for the fusion models (``model.kernels: harness``).

Both compute what a PyTorch module computes, with the same parameters; only the summation
order and the attention-dropout stream differ, so a run's numbers depend on the kernel
choice, which is therefore a recorded setting (part of the run id), never chosen from the
tensor's device. They run on any device; they pay off on the CPU.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

class _BiGRUFunction(torch.autograd.Function):
    """One bidirectional GRU layer (PyTorch's gate equations, zero initial state), with the two
    directions stepped together and a hand-written backward pass.

    x [B, T, D]; per direction d (0 forward, 1 reversed) w_ih [2, 3H, D], w_hh [2, 3H, H],
    b_ih / b_hh [2, 3H] (gates r, z, n) -> [B, T, 2H] (forward states, then backward ones).
    Per time step it does a handful of small operations on [2, B, H] tensors instead of
    autograd's graph of a dozen nodes per step and direction; the input projections and
    all weight gradients are single large matrix products.
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        b, t_len, d = x.shape
        h = w_hh.shape[2]
        xt = x.transpose(0, 1)
        xd = torch.stack([xt, xt.flip(0)]).view(2, t_len * b, d)  # direction d, step t
        g = torch.baddbmm(b_ih.unsqueeze(1), xd, w_ih.transpose(1, 2)).view(2, t_len, b, 3 * h)
        gh = x.new_empty(t_len, 2, b, 3 * h)  # W_hh h + b_hh per step
        rz = x.new_empty(t_len, 2, b, 2 * h)  # reset and update gates
        n = x.new_empty(t_len, 2, b, h)  # candidate state
        hs = x.new_empty(t_len + 1, 2, b, h)  # states; hs[0] = 0
        hs[0].zero_()
        tmp = x.new_empty(2, b, h)
        w_hh_t, b_hh_ = w_hh.transpose(1, 2), b_hh.unsqueeze(1)
        g_rz, g_n = g[..., :2 * h].unbind(1), g[..., 2 * h:].unbind(1)
        gh_l, gh_rz, gh_n = gh.unbind(0), gh[..., :2 * h].unbind(0), gh[..., 2 * h:].unbind(0)
        rz_l, r_l, z_l = rz.unbind(0), rz[..., :h].unbind(0), rz[..., h:].unbind(0)
        n_l, h_l = n.unbind(0), hs.unbind(0)
        for t in range(t_len):
            torch.baddbmm(b_hh_, h_l[t], w_hh_t, out=gh_l[t])
            torch.add(g_rz[t], gh_rz[t], out=rz_l[t]).sigmoid_()
            nt = torch.addcmul(g_n[t], r_l[t], gh_n[t], out=n_l[t]).tanh_()
            torch.addcmul(nt, z_l[t], torch.sub(h_l[t], nt, out=tmp), out=h_l[t + 1])  # (1-z)n + zh
        ctx.save_for_backward(xd, w_ih, w_hh, gh, rz, n, hs)
        return torch.cat([hs[1:, 0].transpose(0, 1), hs[1:, 1].flip(0).transpose(0, 1)], dim=-1)

    @staticmethod
    def backward(ctx, dout):
        xd, w_ih, w_hh, gh, rz, n, hs = ctx.saved_tensors
        t_len, _, b, h = n.shape
        d = xd.shape[2]
        do = dout.new_empty(t_len, 2, b, h)  # d loss / d state, from the output
        do[:, 0].copy_(dout[:, :, :h].transpose(0, 1))
        do[:, 1].copy_(dout[:, :, h:].transpose(0, 1).flip(0))
        r, z = rz[..., :h], rz[..., h:]
        h_minus_n = hs[:-1] - n
        c = (1 - z) * (1 - n * n)  # d state / d candidate pre-activation, per unit of dh
        rz_slope = rz * (1 - rz)  # sigmoid'
        dg = dout.new_empty(t_len, 2, b, 3 * h)  # d loss / d (W_hh h + b_hh), per step
        dan = dout.new_empty(t_len, 2, b, h)  # d loss / d candidate pre-activation
        tmp = dout.new_empty(2, b, h)
        dg_l, dr_l, dz_l = dg.unbind(0), dg[..., :h].unbind(0), dg[..., h:2 * h].unbind(0)
        drz_l, dn_l = dg[..., :2 * h].unbind(0), dg[..., 2 * h:].unbind(0)
        dan_l, do_l, hmn_l, c_l = dan.unbind(0), do.unbind(0), h_minus_n.unbind(0), c.unbind(0)
        ghn_l, slope_l = gh[..., 2 * h:].unbind(0), rz_slope.unbind(0)
        r_l, z_l = r.unbind(0), z.unbind(0)
        dh = do_l[t_len - 1].clone()
        for t in range(t_len - 1, -1, -1):
            if t < t_len - 1:
                dh.add_(do_l[t])
            torch.mul(dh, hmn_l[t], out=dz_l[t])
            da = torch.mul(dh, c_l[t], out=dan_l[t])
            torch.mul(da, ghn_l[t], out=dr_l[t])
            drz_l[t].mul_(slope_l[t])
            torch.mul(da, r_l[t], out=dn_l[t])
            dh = torch.baddbmm(torch.mul(dh, z_l[t], out=tmp), dg_l[t], w_hh)
        dgd = dg.transpose(0, 1).contiguous().view(2, t_len * b, 3 * h)  # direction-major
        d_whh = torch.bmm(dgd.transpose(1, 2), hs[:-1].transpose(0, 1).reshape(2, t_len * b, h))
        d_bhh = dgd.sum(1)
        dgd.view(2, t_len, b, 3 * h)[..., 2 * h:].copy_(dan.transpose(0, 1))  # now d / d gi
        dx = None
        if ctx.needs_input_grad[0]:
            dxd = torch.bmm(dgd, w_ih).view(2, t_len, b, d)
            dx = (dxd[0] + dxd[1].flip(0)).transpose(0, 1)
        d_wih = torch.bmm(dgd.transpose(1, 2), xd)
        return dx, d_wih, d_whh, dgd.sum(1), d_bhh


def bigru(gru: nn.GRU, x: torch.Tensor) -> torch.Tensor:
    """``gru(x)[0]`` for a one-layer, batch-first, bidirectional ``nn.GRU``."""
    stack = lambda name: torch.stack([getattr(gru, name), getattr(gru, name + "_reverse")])  # noqa: E731
    return _BiGRUFunction.apply(x, stack("weight_ih_l0"), stack("weight_hh_l0"),
                                stack("bias_ih_l0"), stack("bias_hh_l0"))


#: Attention scores computed at once per chunk of (batch x head) slices: about 1 MiB, so a
#: chunk's scores stay in the core's cache between the matmul, softmax, dropout and sums.
_CHUNK_BYTES = 1 << 20


class _QueryMeanAttention(torch.autograd.Function):
    """c = mean over queries of dropout(softmax(q kᵀ)), chunk by chunk; kᵀ never stored.

    q [N, Tq, d] (already scaled by 1/sqrt(d)), k [N, Tk, d] -> c [N, 1, Tk], with N the
    batch x heads slices. Dropout keeps each attention weight with probability 1 - p and
    scales by 1/(1 - p), as nn.MultiheadAttention does; its mask comes from NumPy's SFC64
    generator seeded by ``seed`` (one 32-bit draw per weight, drop if below p·2³²) and is
    kept as 1 byte per weight for the backward pass. The backward pass recomputes each
    chunk's softmax instead of storing the N·Tq·Tk weights.
    """

    @staticmethod
    def forward(ctx, q, k, p: float, seed: int):
        n, tq, _ = q.shape
        tk = k.shape[1]
        step = max(1, _CHUNK_BYTES // (tq * tk * q.element_size()))
        if (tq * tk) % 2 and step % 2 and step < n:  # whole 64-bit draws per chunk
            step += 1
        c = q.new_empty(n, 1, tk)
        keep = None
        if p > 0:
            keep = torch.empty(n, tq, tk, dtype=torch.bool)  # drawn on the host (NumPy)
            bits = np.random.Generator(np.random.SFC64(seed)).bit_generator
            threshold = np.uint32(round(p * 2**32))
        k_t = k.transpose(1, 2)
        for i in range(0, n, step):
            sl = slice(i, i + step)
            w = torch.bmm(q[sl], k_t[sl])
            torch.softmax(w, -1, out=w)
            if keep is not None:
                m = keep[sl]
                u = bits.random_raw((m.numel() + 1) // 2).view(np.uint32)[:m.numel()]
                np.greater_equal(u, threshold, out=m.numpy().reshape(-1))
                w.mul_(m.view(torch.uint8).to(w.device, w.dtype))
            torch.sum(w, dim=1, keepdim=True, out=c[sl])
        c.mul_(1.0 / (tq * (1.0 - p)))
        ctx.save_for_backward(q, k, keep)
        ctx.p, ctx.step = p, step
        return c

    @staticmethod
    def backward(ctx, dc):
        q, k, keep = ctx.saved_tensors
        p, step = ctx.p, ctx.step
        n, tq, _ = q.shape
        g = dc * (1.0 / (tq * (1.0 - p)))  # d loss / d (kept, unscaled weight), [N, 1, Tk]
        dq, dk = torch.empty_like(q), torch.empty_like(k)
        k_t = k.transpose(1, 2)
        for i in range(0, n, step):
            sl = slice(i, i + step)
            w = torch.bmm(q[sl], k_t[sl])
            torch.softmax(w, -1, out=w)
            gs = g[sl]
            # softmax backward with upstream gradient keep * g:  w * (keep*g - sum(w*keep*g))
            if keep is not None:
                wk = w * keep[sl].view(torch.uint8).to(w.device, w.dtype)
                r = torch.bmm(wk, gs.transpose(1, 2))  # [n, Tq, 1]
                ds = wk.mul_(gs).addcmul_(w, r, value=-1)
            else:
                r = torch.bmm(w, gs.transpose(1, 2))
                ds = w.mul_(gs - r)
            torch.bmm(ds, k[sl], out=dq[sl])
            torch.bmm(ds.transpose(1, 2), q[sl], out=dk[sl])
        return dq, dk, None, None


def attention_query_mean(attn: nn.MultiheadAttention, query: torch.Tensor, source: torch.Tensor,
                         training: bool) -> torch.Tensor:
    """``attn(query, source, source)[0].mean(dim=1)`` computed without the [B, Tq, E] output.

    The mean over queries commutes with the value and output projections, so only the
    query-mean of the (dropped-out) attention weights is needed: [B, H, 1, Tk] instead of
    [B, H, Tq, Tk] weights times values. Same parameters (in_proj_weight / in_proj_bias /
    out_proj), same function; only the summation order (and the dropout stream) differ.
    """
    b, tq, e = query.shape
    tk = source.shape[1]
    h = attn.num_heads
    d = e // h
    w, bias = attn.in_proj_weight, attn.in_proj_bias
    if query is source:
        q, k, v = F.linear(query, w, bias).view(b, tq, 3, h, d).permute(2, 0, 3, 1, 4)
    else:
        q = F.linear(query, w[:e], bias[:e]).view(b, tq, h, d).transpose(1, 2)
        k, v = F.linear(source, w[e:], bias[e:]).view(b, tk, 2, h, d).permute(2, 0, 3, 1, 4)
    q = (q * (1.0 / math.sqrt(d))).reshape(b * h, tq, d)
    k = k.reshape(b * h, tk, d)
    v = v.reshape(b * h, tk, d)
    p = float(attn.dropout) if training else 0.0
    seed = int(torch.empty((), dtype=torch.int64).random_()) if p > 0 else 0
    c = _QueryMeanAttention.apply(q, k, p, seed)  # [B*H, 1, Tk]
    out = torch.bmm(c, v).view(b, e)  # heads concatenated, as MHA's output
    return attn.out_proj(out)

