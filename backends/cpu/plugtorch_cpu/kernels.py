"""Every primitive as a numpy kernel. See NOTE [backend contract] in plugtorch.backends.base."""
import math
import warnings

import numpy as np

from plugtorch.backends import buffer, is_tensor, numpy_view, offset, philox_uniform, strides

from .threads import CHEAP as _CHEAP, COSTLY as _COSTLY, POOL as _POOL, split as _split
from .threads import rows_in_memory as _rows_in_memory

KERNELS = {}

# numpy reports overflow, 0/0 and integer division by zero as RuntimeWarnings attributed to the
# calling frame, i.e. this module. PyTorch computes such values silently, and so do we; a filter
# scoped to this module costs nothing per call (np.errstate would cost ~1 us per kernel).
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"plugtorch_cpu\.kernels")


_v = numpy_view     # the strided numpy view of a tensor, cached on it


def kernel(name):
    def deco(fn):
        KERNELS[name] = fn
        return fn
    return deco


def _operand(x):
    return _v(x) if is_tensor(x) else x


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _erf_kernel(x, out):
    try:
        from scipy.special import erf
        return erf(x, out=out)
    except ImportError:
        out[...] = _erf(x)
        return out


def _sigmoid(x, out):
    # stable for large |x|: exp of a non-positive number only
    e = np.exp(-np.abs(x))
    np.divide(np.where(x >= 0, 1, e), 1 + e, out=out)


def _rsqrt(x, out):
    np.sqrt(x, out=out)
    np.divide(1, out, out=out)


_ZEROS = {}


def _zeros(dtype, shape):
    """Read-only zeros of `shape`, a view of one cached buffer per dtype. numpy's maximum
    against a scalar runs a scalar loop, about 4x slower than against an array (AVX-512).
    At most 4M elements (16 MiB of float32), read-only, one per dtype."""
    n = int(np.prod(shape))
    z = _ZEROS.get(dtype)
    if z is None or z.size < n:
        z = np.zeros(max(n, 1 << 16), dtype)
        z.flags.writeable = False
        _ZEROS[dtype] = z
    return z[:n].reshape(shape)


def _relu(x, out):
    if x.dtype.kind == "f" and 1024 <= x.size <= 1 << 22:
        np.maximum(x, _zeros(x.dtype, x.shape), out=out)
    else:
        np.maximum(x, 0, out=out)


def _round(x, out):
    np.round(x, out=out) if x.dtype.kind == "f" else np.copyto(out, x)


def _int_identity(fn):
    def k(x, out):
        if x.dtype.kind == "f":
            fn(x, out=out)
        else:
            np.copyto(out, x)
    return k


def _sign(x, out):
    if x.dtype == np.bool_:
        np.copyto(out, x)
    else:
        np.sign(x, out=out)


def _abs(x, out):
    if x.dtype == np.bool_:
        np.copyto(out, x)
    else:
        np.abs(x, out=out)


def _bool_of(fn, ints):
    def k(x, out):
        if x.dtype.kind != "f":
            out[...] = ints
        else:
            fn(x, out=out)
    return k


_UNARY = {
    "neg": np.negative, "abs": _abs, "sign": _sign, "exp": np.exp, "log": np.log,
    "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt, "rsqrt": _rsqrt, "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "sigmoid": _sigmoid, "relu": _relu,
    "erf": _erf_kernel, "floor": _int_identity(np.floor), "ceil": _int_identity(np.ceil),
    "round": _round, "trunc": _int_identity(np.trunc), "reciprocal": lambda x, out: np.divide(
        1, x, out=out), "logical_not": np.logical_not, "isnan": _bool_of(np.isnan, False),
    "isinf": _bool_of(np.isinf, False), "isfinite": _bool_of(np.isfinite, True),
    "bitwise_not": np.invert,
}


# unary kernels that spend a nanosecond or more on an element (NOTE [intra-op threads])
_COSTLY_UNARY = {"exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sigmoid", "erf"}


def _make_unary(fn, chunk):
    def part(o, x):
        fn(x, out=o)

    def k(out, x):
        _split(part, _v(out), (_v(x),), chunk=chunk)      # NOTE [intra-op threads]
    return k


for _n, _f in _UNARY.items():
    KERNELS[_n] = _make_unary(_f, _COSTLY if _n in _COSTLY_UNARY else _CHEAP)


def _power(a, b, out, casting="same_kind"):
    # the contract: integer a ** b for b < 0 is 1 for a == 1, +-1 for a == -1, else 0
    if out.dtype.kind == "f" or not np.any(np.less(b, 0)):
        return np.power(a, b, out=out, casting=casting)
    neg = np.less(b, 0)
    r = np.power(a, np.where(neg, 0, b))
    odd = np.bitwise_and(b, 1).astype(bool)
    small = np.where(np.equal(a, 1) | (np.equal(a, -1) & ~odd), 1,
                     np.where(np.equal(a, -1), -1, 0))
    np.copyto(out, np.where(neg, small, r), casting="unsafe")


def _divide(a, b, out, casting="same_kind"):
    # the contract: true division for floats, floor division for integers
    if out.dtype.kind == "f":
        return np.true_divide(a, b, out=out, casting=casting)
    return np.floor_divide(a, b, out=out, casting=casting)


_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": _divide,
    "floor_divide": np.floor_divide, "remainder": np.remainder, "fmod": np.fmod,
    "pow": _power,
    "maximum": np.maximum, "minimum": np.minimum, "atan2": np.arctan2, "eq": np.equal,
    "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
    "ge": np.greater_equal, "logical_and": np.logical_and, "logical_or": np.logical_or,
    "logical_xor": np.logical_xor, "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
}


def _make_binary(fn, name):
    chunk = _COSTLY if name in ("pow", "atan2", "remainder", "fmod", "floor_divide") else _CHEAP

    def k(out, a, b):
        o = _v(out)
        # a scalar operand takes the other operand's dtype (out's, except for comparisons)
        if a.__class__ is float or a.__class__ is int or a.__class__ is bool:
            b = _v(b)
            a = np.asarray(a, o.dtype if name not in _CMP else b.dtype)
        else:
            a = _v(a)
            if b.__class__ is float or b.__class__ is int or b.__class__ is bool:
                b = np.asarray(b, o.dtype if name not in _CMP else a.dtype)
            else:
                b = _v(b)
        plain = o.dtype == np.bool_ and name in _CMP or name.startswith("logical")
        _split(same_kind if plain else unsafe, o, (a, b), chunk=chunk)

    def same_kind(o, a, b):
        fn(a, b, out=o)

    def unsafe(o, a, b):
        fn(a, b, out=o, casting="unsafe")
    k.__name__ = name
    return k


_CMP = {"eq", "ne", "lt", "le", "gt", "ge"}


def _fast_binary(fn, name):
    slow = _make_binary(fn, name)

    def part(o, a, b):
        fn(a, b, out=o)

    def k(out, a, b):
        # the common case, tensor (op) tensor (the frontend gave both out's dtype)
        if a.__class__ is b.__class__:
            # (split's own size test, inline: this is every small op's path)
            o = _v(out)
            m = _POOL.min_size
            if m is None or o.size < m:
                fn(_v(a), _v(b), out=o)
            else:
                _split(part, o, (_v(a), _v(b)), chunk=_CHEAP)
        else:
            slow(out, a, b)
    return k


for _n, _f in _BINARY.items():
    KERNELS[_n] = _fast_binary(_f, _n) if _n in ("add", "sub", "mul", "maximum", "minimum") \
        else _make_binary(_f, _n)


_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _constant(v):
    """The value of a view that repeats one element (all strides 0), else None."""
    return v.reshape(-1)[0] if v.size and not any(v.strides) else None


@kernel("where")
def _where(out, cond, a, b):
    # NOTE [branch-free where]: numpy's where branches per element, so a mixed mask (relu's
    # backward, masked losses) costs several times a multiply. From 1024 elements the
    # elements' bits are selected instead, every value (NaN payloads, -0.0) bit for bit:
    # with m all ones where cond holds, out = b ^ ((a ^ b) & m); a zero operand (relu's
    # backward) leaves one `and` with the mask or its complement
    _split(_where_part, _v(out), (_v(cond), _v(a), _v(b)), chunk=_CHEAP)


def _where_part(o, c, av, bv):
    u = _BITS.get(o.dtype.itemsize)
    if o.size < 1024 or u is None:
        np.copyto(o, np.where(c, av, bv))
        return
    ou, au, bu = o.view(u), av.view(u), bv.view(u)
    m = c.view(np.uint8).astype(u)
    if _constant(au) == 0:
        np.subtract(m, 1, out=m)            # all ones where cond is false
        np.bitwise_and(bu, m, out=ou)
        return
    np.negative(m, out=m)                   # all ones where cond holds
    if _constant(bu) == 0:
        np.bitwise_and(au, m, out=ou)
        return
    np.bitwise_and(np.bitwise_xor(au, bu), m, out=m)
    np.bitwise_xor(bu, m, out=ou)


@kernel("copy")
def _copy(out, src):
    # a memory-bound kernel even when strided: im2col copies of ~1M elements, cut in two,
    # made training steps no faster (1-5% slower), between OpenBLAS's products
    _split(_copy_part, _v(out), (_v(src),), chunk=_CHEAP)


def _copy_part(o, src):
    np.copyto(o, src, casting="unsafe")


# unsigned ints as wide as a short contiguous row of floats (the fill of rows of 2-4)
_ROW_BITS = {4: np.uint32, 8: np.uint64}


@kernel("fill")
def _fill(out, value):
    o = _v(out)
    if o.ndim > 1 and o.shape[-1] > 1 and o.strides[-1] == o.itemsize and \
            o.dtype.kind == "f" and o.size >= 1024:
        # many short rows (the padding columns a pitched fold zeroes: rows of 2 or 4 of
        # 34 floats): numpy's fill loops per row, so each row is written as one unsigned
        # int holding the value's bits that many times (4x faster for rows of 2 float32)
        wide = _ROW_BITS.get(o.shape[-1] * o.itemsize)
        if wide is not None:
            row = np.empty(o.shape[-1], o.dtype)
            row.fill(value)                 # the value as fill writes it, NaN payload and all
            value = row.view(wide)[0]
            o = o.view(wide)
    _split(lambda part: part.fill(value), o, (), chunk=_CHEAP)


@kernel("arange")
def _arange(out, start, step):
    o = _v(out)
    n = o.shape[0]
    if o.dtype.kind == "f":
        np.copyto(o, start + np.arange(n, dtype=np.float64) * step, casting="unsafe")
    else:
        np.copyto(o, start + np.arange(n, dtype=np.int64) * step, casting="unsafe")


def _reduction(ufunc, accumulate_in_out_dtype):
    def run(o, x, dims):
        if accumulate_in_out_dtype and o.dtype == np.float16:     # float16 adds up in float32
            np.copyto(o, ufunc.reduce(x, axis=dims, keepdims=True, dtype=np.float32),
                      casting="unsafe")
        elif accumulate_in_out_dtype:      # sum/prod of ints accumulate in int64
            ufunc.reduce(x, axis=dims, keepdims=True, out=o, dtype=o.dtype)
        else:
            ufunc.reduce(x, axis=dims, keepdims=True, out=o)

    def k(out, x, dims):
        o, xv = _v(out), _v(x)
        if o.size > 1 and _rows_in_memory(xv, dims):
            # the rows of a row sum (last dims, contiguous), cut into parts: each row is
            # reduced as on one thread (NOTE [intra-op threads]); a column sum stays whole
            # (cutting its columns made it slower, and numpy sums them in another order)
            _split(lambda op, xp: run(op, xp, dims), o, (xv,), keep=dims, chunk=_CHEAP,
                   work=xv.size)
        else:
            run(o, xv, dims)
    return k


for _n, _f in {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum,
               "any": np.logical_or, "all": np.logical_and}.items():
    KERNELS[_n] = _reduction(_f, _n in ("sum", "prod"))


def _arg(fn, extreme):
    def k(out, x, dim):
        xv = _v(x)
        n = xv.shape[dim] if xv.ndim else 1
        if 1 < n <= 16 and xv.size >= 1024 * n:
            _short_arg(_v(out), xv, dim, n, extreme)
            return
        # NaN counts as the extreme value, as PyTorch does: np.argmax already picks it
        np.copyto(_v(out), fn(xv, axis=dim, keepdims=True), casting="unsafe")
    return k


def _short_arg(o, xv, dim, n, extreme):
    """argmax/argmin along a short axis of many rows (max-pooling windows), where numpy's
    per-row loop dominates. Each pass runs over all rows at once (one slice of the moved
    axis): the rows' extremes in n - 1 elementwise passes (which propagate NaN), then the
    first position reaching it is the count of leading positions that miss it, summed
    without a branch. A row holding NaN picks its first NaN, as np.argmax does."""
    xm = np.moveaxis(xv, dim, 0)
    m = xm[0].copy()
    for k in range(1, n):
        extreme(m, xm[k], out=m)
    nan = m.dtype.kind in "fc" and bool(np.isnan(m).any())
    res = np.zeros(m.shape, np.uint8)
    miss = np.ones(m.shape, np.bool_)
    for k in range(n - 1):
        miss &= xm[k] != m               # NaN != NaN: a NaN row also needs the isnan test
        if nan:
            miss &= ~np.isnan(xm[k])
        res += miss
    np.copyto(o, np.expand_dims(res, dim), casting="unsafe")


KERNELS["argmax"] = _arg(np.argmax, np.maximum)
KERNELS["argmin"] = _arg(np.argmin, np.minimum)


@kernel("cumsum")
def _cumsum(out, x, dim):
    o = _v(out)
    if o.dtype == np.float16:          # a running float16 sum stalls at 2048: add in float32
        np.copyto(o, np.cumsum(_v(x), axis=dim, dtype=np.float32), casting="unsafe")
    else:
        np.cumsum(_v(x), axis=dim, dtype=o.dtype, out=o)


# softmax and log_softmax (composite ops a backend may override): one kernel each instead
# of the five ops of their decomposition, with its arithmetic (the row's maximum subtracted
# first, so an all -inf or +inf row gives NaN as there; float16 sums in float32)
def _shifted_exp_sum(xv, o, dim):
    """o = x - max(x) along dim; returns the sum of exp(o) along dim, and exp(o) itself."""
    np.subtract(xv, np.max(xv, axis=dim, keepdims=True), out=o)
    e = np.exp(o)
    return np.add.reduce(e, axis=dim, keepdims=True,
                         dtype=np.float32 if o.dtype == np.float16 else None), e


def _softmax_rows(o, x, dim):
    if o.size:
        s, e = _shifted_exp_sum(x, o, dim)
        np.divide(e, s, out=o, casting="unsafe")


def _log_softmax_rows(o, x, dim):
    if o.size:
        s, _ = _shifted_exp_sum(x, o, dim)
        np.subtract(o, np.log(s), out=o, casting="unsafe")


def _rowwise(fn, out, x, dim):
    """fn(o, x, dim) reduces along `dim`: over the last, contiguous dim its rows are cut
    into parts (NOTE [intra-op threads])."""
    o, xv = _v(out), _v(x)
    last = xv.ndim - 1
    if xv.ndim and dim % xv.ndim == last and _rows_in_memory(xv, (last,)):
        _split(lambda op, xp: fn(op, xp, last), o, (xv,), keep=(last,))
    else:
        fn(o, xv, dim)


@kernel("softmax")
def _softmax(out, x, dim):
    _rowwise(_softmax_rows, out, x, dim)


@kernel("log_softmax")
def _log_softmax(out, x, dim):
    _rowwise(_log_softmax_rows, out, x, dim)


@kernel("bmm")
def _bmm(out, a, b):
    o = _v(out)
    av, bv = _v(a), _v(b)
    if o.dtype.kind in "iub":
        # integer matmul: numpy's matmul is exact for ints
        np.copyto(o, np.matmul(av.astype(np.int64), bv.astype(np.int64)), casting="unsafe")
    else:
        np.matmul(av, bv, out=o)


def _positions(t, dim, idx):
    """Element positions in t's buffer of t[..idx[..i..]..] along dim (idx: an intp array,
    t's shape except along dim): the index's offsets plus every other dim's, by strides.
    The other dims' part is summed first in a small broadcast array (shaped like idx with
    a 1 at dim), so the full-size work is one multiply and one add."""
    st = strides(t)
    nd = idx.ndim
    base = np.full((1,) * nd, offset(t), dtype=np.intp)
    for d, n in enumerate(idx.shape):
        if d != dim and n > 1 and st[d]:
            base = base + (np.arange(n, dtype=np.intp) * st[d]).reshape(
                (1,) * d + (n,) + (1,) * (nd - d - 1))
    if st[dim] == 1:
        return np.add(idx, base)
    pos = np.multiply(idx, st[dim])
    pos += base
    return pos


@kernel("gather")
def _gather(out, src, dim, index):
    # NOTE [gather by positions]: one flat take from the source's buffer at computed
    # positions, instead of numpy's n-d fancy indexing (several times slower); clipped
    # bounds (mode="clip") keep every read inside the buffer whatever the index holds
    idx = _v(index).astype(np.intp, copy=False)
    if not idx.size:
        return
    o = _v(out)
    pos = _positions(src, dim, idx)
    if o.flags.c_contiguous:
        np.take(buffer(src), pos, out=o, mode="clip")
    else:
        np.copyto(o, np.take(buffer(src), pos, mode="clip"))


_SCATTER_UFUNC = {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


@kernel("scatter")
def _scatter(out, dim, index, src, reduce):
    o = _v(out)
    idx = _v(index).astype(np.intp, copy=False)
    if reduce is not None and idx.size:
        # reductions on flat positions in out's buffer (NOTE [gather by positions]):
        # ufunc.at on a 1-d array with one index array is numpy's fast path
        vals = _v(src) if is_tensor(src) else np.asarray(src, o.dtype)
        if is_tensor(src):
            vals = vals[tuple(slice(0, n) for n in idx.shape)]
        vals = np.broadcast_to(vals.astype(o.dtype, copy=False), idx.shape)
        _SCATTER_UFUNC[reduce].at(buffer(out), _positions(out, dim, idx).reshape(-1),
                                  vals.reshape(-1))
        return
    # full coordinates of every index element
    coords = list(np.indices(idx.shape, sparse=True))
    coords[dim] = idx
    vals = _v(src) if is_tensor(src) else np.asarray(src, o.dtype)
    if is_tensor(src):
        vals = vals[tuple(slice(0, n) for n in idx.shape)]
    vals = np.broadcast_to(vals, idx.shape)
    if reduce is None:
        o[tuple(coords)] = vals
    else:
        _SCATTER_UFUNC[reduce].at(o, tuple(np.broadcast_arrays(*coords)), vals)


@kernel("sort")
def _sort(values, indices, x, dim, descending, stable):
    xv = _v(x)
    if descending:
        # stable descending order: sort the negated keys; NaN counts as the largest value
        if xv.dtype == np.bool_:
            idx = np.argsort(~xv, axis=dim, kind="stable")
        elif xv.dtype.kind == "f":
            nan = np.isnan(xv)     # NaNs first (in input order), then -x ascending
            idx = np.lexsort((np.where(nan, 0.0, -xv.astype(np.float64)), ~nan), axis=dim)
        else:
            idx = np.argsort(-(xv.astype(np.int64)), axis=dim, kind="stable")
    else:
        idx = np.argsort(xv, axis=dim, kind="stable")
    np.copyto(_v(indices), idx)
    np.copyto(_v(values), np.take_along_axis(xv, idx, axis=dim))


@kernel("nonzero")
def _nonzero(x):
    import plugtorch
    idx = np.stack(np.nonzero(_v(x)), axis=1) if _v(x).ndim else \
        np.zeros((int(bool(_v(x))), 0), np.int64)
    return plugtorch.from_numpy(np.ascontiguousarray(idx.astype(np.int64)))


@kernel("uniform")
def _uniform(out, seed, offset):
    o = _v(out)
    o[...] = philox_uniform(o.size, seed, offset, o.dtype).reshape(o.shape)
