"""Random streams: the Philox4x32-10 counter-based generator and `Generator` objects.

NOTE [random numbers]
A generator is just (seed, offset), two unsigned 64-bit integers. A random op that needs
`n` uniform numbers takes the counters offset, offset+1, …, offset+n-1 and advances the
offset by n; backends never keep random state. Backends implement one primitive,

    uniform(out, seed, offset)

which fills `out` (a float16/float32/float64 tensor, any strided view) with uniform [0, 1)
values. Element i, counting in row-major order of out's shape, is computed from Philox4x32-10
(Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):

    c   = (offset + i) mod 2**64
    ctr = (c & 0xffffffff, c >> 32, 0, 0)             four 32-bit counter words
    key = (seed & 0xffffffff, seed >> 32)              two 32-bit key words
    (x0, x1, x2, x3) = philox4x32_10(ctr, key)
    float32: (x0 >> 8) * 2**-24                        24 random bits, exact in float32
    float64: ((x0 >> 5) * 2**26 + (x1 >> 6)) * 2**-53  53 random bits, exact in float64
    float16: (x0 >> 21) * 2**-11                       11 random bits, exact in float16

philox4x32_10 is ten rounds of, with M0 = 0xD2511F53, M1 = 0xCD9E8D57 and 32-bit words,

    hi0:lo0 = M0 * x0 (64-bit product)      hi1:lo1 = M1 * x2
    (x0, x1, x2, x3) = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0)

with the key bumped between rounds: k0 += 0x9E3779B9, k1 += 0xBB67AE85 (mod 2**32).
Every value is exactly representable, so all backends agree bit for bit. (float16 takes 11
bits rather than rounding the float32 value, which would round to 1.0 about once in 4096.)
The float32 and float64 values of one counter differ by less than 2**-24.

Random ops (plugtorch.ops.random) are decompositions of `uniform`; they draw through
`fill_uniform`.
"""
import os
import threading

import numpy as np

from . import _capture
from ._device import device as Device
from ._tensor import Tensor, resolve_device, from_numpy_on
from . import _dtype as D
from ._dispatch import kernel as _kernel

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state"]

# ----------------------------------------------------------------------------- Philox

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_LO = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)


def philox4x32_10(ctr, key, chunk=8192):
    """Philox4x32-10 on arrays: ctr is 4 uint64 arrays of 32-bit words, key 2 ints.

    Returns the 4 output words as uint64 arrays (values < 2**32). Works through the input
    in cache-sized chunks with in-place ufuncs: ~2.5x faster than whole-array temporaries.
    """
    c = [np.asarray(w, np.uint64) for w in ctr]
    n = c[0].shape[0] if c[0].ndim else 1
    c = [np.broadcast_to(w, (n,)) for w in c]
    out = [np.empty(n, np.uint64) for _ in range(4)]
    p0, p1, tmp = (np.empty(min(n, chunk), np.uint64) for _ in range(3))
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        m = e - s
        x0, x1, x2, x3 = (w[s:e].copy() for w in c)
        q0, q1, t = p0[:m], p1[:m], tmp[:m]
        k0, k1 = key[0] & 0xFFFFFFFF, key[1] & 0xFFFFFFFF
        for _ in range(10):
            np.multiply(x0, _M0, out=q0)        # 32 x 32 -> 64 bits: exact in uint64
            np.multiply(x2, _M1, out=q1)
            np.right_shift(q1, _32, out=t)
            np.bitwise_xor(t, x1, out=x0)
            np.bitwise_xor(x0, np.uint64(k0), out=x0)
            np.right_shift(q0, _32, out=t)
            np.bitwise_xor(t, x3, out=x2)
            np.bitwise_xor(x2, np.uint64(k1), out=x2)
            np.bitwise_and(q1, _LO, out=x1)
            np.bitwise_and(q0, _LO, out=x3)
            k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
        for o, x in zip(out, (x0, x1, x2, x3)):
            o[s:e] = x
    return tuple(out)


def philox_uniform_numpy(n, seed, offset, np_dtype):
    """The reference `uniform` primitive: `n` uniform [0, 1) values of `np_dtype` drawn from
    counters offset .. offset+n-1 with `seed`, exactly as NOTE [random numbers] defines.

    Example:
        >>> import numpy as np
        >>> from plugtorch._generator import philox_uniform_numpy
        >>> philox_uniform_numpy(3, 0, 0, np.float32).dtype
        dtype('float32')
    """
    np_dtype = np.dtype(np_dtype)
    c = np.arange(n, dtype=np.uint64) + np.uint64(offset % 2**64)  # wraps mod 2**64
    zero = np.zeros(n, np.uint64)
    x0, x1, _, _ = philox4x32_10((c & _LO, c >> _32, zero, zero),
                                 (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF))
    if np_dtype == np.float64:
        return ((x0 >> np.uint64(5)) * np.uint64(1 << 26) + (x1 >> np.uint64(6))).astype(
            np.float64) * 2.0 ** -53
    if np_dtype == np.float16:
        return ((x0 >> np.uint64(21)).astype(np.float32) * np.float32(2.0 ** -11)).astype(
            np.float16)
    if np_dtype != np.float32:
        raise TypeError(f"philox_uniform_numpy: expected a floating dtype, got {np_dtype}")
    return (x0 >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -24)


# ----------------------------------------------------------------------------- generators

_DEFAULT_SEED = 67280421310721
_MASK64 = 2 ** 64 - 1


def _check_seed(seed):
    if isinstance(seed, Tensor):
        seed = seed.item()
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
    seed = int(seed)
    if not -2 ** 63 <= seed <= _MASK64:
        raise RuntimeError(f"manual_seed: seed must be in [-0x8000_0000_0000_0000, "
                           f"0xffff_ffff_ffff_ffff], got {seed}")
    return seed & _MASK64     # negative seeds wrap, as PyTorch does


class Generator:
    """A random stream: a seed and a counter offset (NOTE [random numbers]).

    Pass it as `generator=` to any random function. Streams are device-independent: the same
    seed gives the same numbers on every backend.

    Args:
        device: the device type the generator serves ("cpu", "opencl", …).

    Example:
        >>> import plugtorch as torch
        >>> g = torch.Generator().manual_seed(0)
        >>> a = torch.rand(2, generator=g)
        >>> b = torch.rand(2, generator=g.manual_seed(0))
        >>> a.tolist() == b.tolist()
        True
    """

    def __init__(self, device="cpu"):
        self.device = device if isinstance(device, Device) else Device(device)
        self._seed = _DEFAULT_SEED
        self._offset = 0
        self._lock = threading.Lock()    # threads drawing at once get disjoint counters

    def __repr__(self):
        return f"<plugtorch.Generator device='{self.device}' seed={self._seed}>"

    def __getstate__(self):
        return {"device": self.device, "_seed": self._seed, "_offset": self._offset}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def manual_seed(self, seed):
        """Set the seed and rewind the stream; returns the generator."""
        self._seed = _check_seed(seed)
        self._offset = 0
        return self

    def seed(self):
        """Seed from the operating system's entropy; returns the new seed."""
        s = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_offset(self):
        return self._offset

    def get_state(self):
        """The state as a uint8 cpu tensor of 16 bytes (seed, offset; little-endian)."""
        raw = np.array([self._seed, self._offset], dtype="<u8").view(np.uint8)
        return from_numpy_on(raw, *resolve_device("cpu"))

    def set_state(self, new_state):
        """Restore a state returned by get_state(); returns the generator."""
        if not isinstance(new_state, Tensor) or new_state._dtype is not D.uint8 or \
                new_state.numel() != 16:
            got = (f"a {new_state._dtype} tensor of {new_state.numel()} elements"
                   if isinstance(new_state, Tensor) else type(new_state).__name__)
            raise RuntimeError(f"set_state: expected the uint8 tensor of 16 bytes returned by "
                               f"get_state(), got {got}")
        raw = np.ascontiguousarray(new_state.cpu().numpy().reshape(-1)).view("<u8")
        self._seed, self._offset = int(raw[0]), int(raw[1])
        return self

    def _take(self, n):
        """Reserve n counters: return (seed, first counter) and advance the offset."""
        with self._lock:
            off = self._offset
            self._offset = (off + n) & _MASK64
            return self._seed, off


default_generator = Generator("cpu")
_DEFAULTS = {"cpu": default_generator}   # str(device) -> its default generator
_default_seed = [_DEFAULT_SEED]


def generator_for(dev, generator):
    if generator is None:
        g = _DEFAULTS.get(str(dev))
        if g is None:
            g = _DEFAULTS[str(dev)] = Generator(dev).manual_seed(_default_seed[0])
        return g
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a plugtorch.Generator, got "
                        f"{type(generator).__name__}")
    if generator.device.type != dev.type:
        raise RuntimeError(f"Expected a '{dev.type}' device type for generator but found "
                           f"'{generator.device.type}'")
    return generator


def manual_seed(seed):
    """Seed the default generators of every device; returns the cpu one.

    Example:
        >>> import plugtorch as torch
        >>> _ = torch.manual_seed(0); a = torch.rand(3)
        >>> _ = torch.manual_seed(0); bool((torch.rand(3) == a).all())
        True
    """
    s = _check_seed(seed)
    _default_seed[0] = s
    for g in _DEFAULTS.values():
        g.manual_seed(s)
    return default_generator


def seed():
    """Seed every default generator from OS entropy; returns the seed."""
    s = int.from_bytes(os.urandom(8), "little")
    manual_seed(s)
    return s


def initial_seed():
    """The seed of the default cpu generator."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default cpu generator's state (a uint8 tensor), for set_rng_state."""
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


# ----------------------------------------------------------------------------- the primitive

def fill_uniform(out, generator=None):
    """Fill float tensor `out` (any view) with uniform [0, 1) values; no autograd."""
    n = out.numel()
    if n:
        gen = generator_for(out._storage.device, generator)
        if _capture.ACTIVE is not None and not _capture.ACTIVE.depth:
            _capture.record_random(_kernel("uniform", out), out, gen, n)   # fresh per replay
            return out
        seed_, off = gen._take(n)
        _kernel("uniform", out)(out, seed_, off)
    return out
