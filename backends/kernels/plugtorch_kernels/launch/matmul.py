"""Batched matmul launcher, out (B, M, N) = a (B, M, K) @ b (B, K, N) (sources: NOTE
[register-blocked matmul] in plugtorch_kernels/matmul.py; which device takes the vector
variant: plugtorch_kernels.tuning)."""
import plugtorch
from plugtorch.backends import (buffer, cast as cast_to, dtype, new_tensor, offset, shape,
                                strides)

from plugtorch_kernels import tuning
from plugtorch_kernels.matmul import TM, TN, VTM, VTN


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
    dt = dtype(t)
    ks = rt.program(("tcopy", dt))
    nbr, nbc = -(-R // 16), -(-C // 16)
    total = B * nbr * nbc
    rt.launch_n(ks["tcopy"], total, buffer(out), buffer(t), offset(t), sb, sr, sc, R, C,
                nbr, nbc, total)
    return out


def use_vec(rt, dt, odt):
    """Whether the vector variant serves dtype dt into odt on rt's device."""
    return tuning.bmm_vector(rt.kind, dt, odt)


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
        if dt is plugtorch.float16 and use_vec(rt, plugtorch.float32, plugtorch.float32):
            # the float32 vector kernel and one rounding compute what the scalar float16
            # kernel does (float products and sums in the same order), many times faster
            acc = new_tensor(out, dtype=plugtorch.float32)
            bmm(acc, cast_to(a, plugtorch.float32), cast_to(b, plugtorch.float32))
            backend.kernels["copy"](out, acc)
            return
        b = _rowmajor(backend, rt, b)
        vec = use_vec(rt, dt, odt)
        key = ("bmm", dt, odt, vec)
        ks = rt.programs.get(key) or rt.program(key)
        tm, tn = (VTM, VTN) if vec else (TM, TN)
        nbm, nbn = -(-M // tm), -(-N // tn)
        total = B * nbm * nbn
        sab, sam, sak = strides(a)
        sbb, sbk = strides(b)[:2]
        if K <= 1:
            sbk = N
        rt.launch_n(ks["bmm"], total, buffer(out), offset(out), buffer(a), offset(a), sab,
                    sam, sak, buffer(b), offset(b), sbb, sbk, M, N, K, nbm, nbn, total)
    return bmm


def kernels(backend):
    return {"bmm": make_bmm(backend)}
