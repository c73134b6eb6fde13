"""Batched matmul launcher, out (B, M, N) = a (B, M, K) @ b (B, K, N) (sources: NOTE
[register-blocked matmul] in plugtorch_kernels/matmul.py; which variant a device runs:
NOTE [matmul tuning] in plugtorch_kernels/autotune.py)."""
import plugtorch
from plugtorch.backends import (buffer, cast as cast_to, dtype, new_tensor, offset, shape,
                                strides)

from plugtorch_kernels import autotune
from plugtorch_kernels.geometry import global_size
from plugtorch_kernels.matmul import variant as _variant
from plugtorch_kernels.tuning import BMM_SMALL_GROUP as SMALL_GROUP, LOCAL, LOCAL_SIZE

_BLOCKS = {}


def block(name):
    """(rows, columns) of the output block one work-item (scalar, vector variants) or one
    work-group (local-memory variants) of variant `name` computes."""
    b = _BLOCKS.get(name)
    if b is None:
        b = _BLOCKS[name] = _variant(name)[1:3]
    return b


def _rowmajor(backend, rt, t):
    """t, or a contiguous copy when its last dim is not unit-stride (or it broadcasts rows).

    A transposed t (unit stride in its middle dim, the layout a backward pass's `w.mT`
    has) is copied in 16 x 16 blocks, so reads and writes both stay within a few cache
    lines; an elementwise copy would read a new line for every element. `rt` is the
    Runtime of t's device.
    """
    B, R, C = shape(t)
    sb, sr, sc = strides(t)
    if sc == 1 or C == 1:
        return t
    out = new_tensor(t)
    if sr != 1:
        backend.kernels["copy"](out, t)
        return out
    tcopy(rt, dtype(t), buffer(out), 0, buffer(t), offset(t), B, R, C, sb, sr, sc)
    return out


def tcopy(rt, dt, out, oo, src, so, B, R, C, sb, sr, sc):
    """Copy src (B, R, C) with strides (sb, sr, sc) from element so into contiguous out from
    element oo, in 16 x 16 blocks."""
    ks = rt.program(("tcopy", dt))
    nbr, nbc = -(-R // 16), -(-C // 16)
    total = B * nbr * nbc
    rt.launch_n(ks["tcopy"], total, out, oo, src, so, sb, sr, sc, R, C, nbr, nbc, total)


def _launch(rt, ks, name, c, co, scb, ldc, a, ao, sab, sam, sak, b, bo, sbb, sbk, B, M, N,
            K):
    """One launch of variant `name` over all blocks of an (M, N) output."""
    tm, tn = block(name)
    nbm, nbn = -(-M // tm), -(-N // tn)
    total = B * nbm * nbn
    if name[0] == "l":
        g, local = (total * LOCAL_SIZE,), LOCAL
    elif rt.kind == "cpu" and total < LOCAL_SIZE * rt.compute_units:
        # too few blocks to give every core a work-group of LOCAL_SIZE: smaller groups
        # (PoCL compiles the kernel once more for this size)
        g, local = (-(-total // SMALL_GROUP) * SMALL_GROUP,), (SMALL_GROUP,)
    else:
        g, local = global_size(total), LOCAL
    rt.launch(ks["bmm"], g, local, c, co, scb, ldc, a, ao, sab, sam, sak, b, bo, sbb, sbk,
              M, N, K, nbm, nbn, total)


def _scalar(M, N):
    return "s8x8"


def launch_bmm(rt, dt, odt, name, c, co, a, ao, sab, sam, sak, b, bo, sbb, sbk, B, M, N, K,
               pick=_scalar, scb=None, ldc=None):
    """c (contiguous (B, M, N) from element co) = a @ b on buffers, with variant `name`.

    A vector or local-memory variant computes the largest block-aligned part; the strips
    left at the right and bottom edges are products of their own, computed with the
    variant `pick(rows, columns)` names (the scalar one by default). `scb` and `ldc` are
    c's batch and row strides when c is part of a larger output."""
    scb, ldc = (M * N, N) if scb is None else (scb, ldc)
    tm, tn = block(name)
    M1, N1 = M - M % tm, N - N % tn
    if name[0] == "s" or not (M1 and N1):       # (a block larger than the output: scalar)
        key = ("bmm", dt, odt, "s8x8")
        ks = rt.programs.get(key) or rt.program(key)
        _launch(rt, ks, "s8x8", c, co, scb, ldc, a, ao, sab, sam, sak, b, bo, sbb, sbk, B, M,
                N, K)
        return
    key = ("bmm", dt, odt, name)
    ks = rt.programs.get(key) or rt.program(key)
    _launch(rt, ks, name, c, co, scb, ldc, a, ao, sab, sam, sak, b, bo, sbb, sbk, B, M1, N1,
            K)
    if N1 < N:      # the right strip, every row
        launch_bmm(rt, dt, odt, pick(M, N - N1), c, co + N1, a, ao, sab, sam, sak, b,
                   bo + N1, sbb, sbk, B, M, N - N1, K, pick, scb, ldc)
    if M1 < M:      # the bottom strip, left of the right one
        launch_bmm(rt, dt, odt, pick(M - M1, N1), c, co + M1 * ldc, a, ao + M1 * sam, sab,
                   sam, sak, b, bo, sbb, sbk, B, M - M1, N1, K, pick, scb, ldc)


def variant(rt, dt, odt, M, N):
    """The variant that multiplies dtype dt into odt, an (M, N) output, on rt's device."""
    if dt is not odt:
        return "s8x8"
    return autotune.bmm_variant(rt, dt, M, N)


def make_bmm(backend):
    def bmm(out, a, b):
        rt = backend.rt(out)
        dt, odt = dtype(a), dtype(out)
        B, M, K = shape(a)
        N = shape(b)[2]
        if B * M * N == 0:
            return
        if K == 0:
            backend.kernels["fill"](out, 0)
            return
        if dt is plugtorch.float16 and variant(rt, plugtorch.float32, plugtorch.float32, M,
                                               N) != "s8x8":
            # a float32 block kernel and one rounding compute what the scalar float16
            # kernel does (float products and sums in the same order), many times faster
            acc = new_tensor(out, dtype=plugtorch.float32)
            bmm(acc, cast_to(a, plugtorch.float32), cast_to(b, plugtorch.float32))
            backend.kernels["copy"](out, acc)
            return
        b = _rowmajor(backend, rt, b)
        sab, sam, sak = strides(a)
        sbb, sbk = strides(b)[:2]
        if K <= 1:
            sbk = N
        launch_bmm(rt, dt, odt, variant(rt, dt, odt, M, N), buffer(out), offset(out),
                   buffer(a), offset(a), sab, sam, sak, buffer(b), offset(b), sbb, sbk, B, M,
                   N, K, lambda m, n: variant(rt, dt, odt, m, n))
    return bmm


def kernels(backend):
    return {"bmm": make_bmm(backend)}
