"""Kernel arguments: the argument types read from a kernel's signature, and how Python values
are packed for them.

A kernel takes buffers (pointers), scalars by value (Python ints and floats, see
`scalar_arg`) and the geometry structs of cl_source.HEADER, passed as `bytes` of the
struct's size (`geo_struct`, `dims_struct`). `arg_types` reads every kernel's by-value
argument types from its source once, so a runtime can declare them when it creates the
kernel and pack a launch's scalars in one step (NOTE [launch cost] in the OpenCL runtime).
"""
import re
import struct

import numpy as np

import plugtorch

from .cl_source import MAXD

#: C scalar type -> numpy dtype of the by-value kernel argument
SCALARS = {"char": np.int8, "uchar": np.uint8, "short": np.int16, "ushort": np.uint16,
           "int": np.int32, "uint": np.uint32, "long": np.int64, "ulong": np.uint64,
           "half": np.float16, "float": np.float32, "double": np.float64}
#: struct types of cl_source.HEADER -> their size in bytes (passed as bytes)
STRUCTS = {"geo_t": 8 * (MAXD + 1), "dims_t": 8 * MAXD}
_SIGNATURE = re.compile(r"(?:\bKERNEL|\b__kernel|\bkernel)\s+void\s+(\w+)\s*\(([^)]*)\)")
_QUALIFIERS = {"const", "unsigned", "volatile", "restrict", "__restrict"}


def kernel_names(source):
    """The names of the kernels `source` defines, in order."""
    return [name for name, _ in _SIGNATURE.findall(source)]


def arg_types(source):
    """{kernel name: [numpy dtype of each by-value argument, None for pointers]}.

    Read from the kernel signatures in `source`; a kernel with an argument type this table
    does not know is left out (building it then fails with that kernel's name).
    """
    out = {}
    for name, params in _SIGNATURE.findall(source):
        types = []
        for p in params.split(","):
            p = p.strip()
            if not p:
                continue
            if "*" in p:
                types.append(None)
                continue
            words = [w for w in p.split()[:-1] if w not in _QUALIFIERS]
            t = words[-1] if words else ""
            if t in SCALARS:
                types.append(np.dtype(SCALARS[t]))
            elif t in STRUCTS:
                types.append(np.dtype((np.void, STRUCTS[t])))
            else:
                types = None
                break
        if types is not None:
            out[name] = types
    return out


_GEO = struct.Struct(f"{MAXD + 1}q").pack
_DIMS = struct.Struct(f"{MAXD}q").pack
_PAD = (0,) * MAXD


def dims_struct(shape):
    """The dims_t kernel argument (bytes) of a shape of at most MAXD dims."""
    return _DIMS(*shape, *_PAD[len(shape):])


def geo_struct(offset, strides):
    """The geo_t kernel argument (bytes): offset, then strides padded with zeros."""
    return _GEO(offset, *strides, *_PAD[len(strides):])


#: float dtype -> its largest finite value, and the struct that rounds a Python float to it
_FMAX = {plugtorch.float16: 65504.0, plugtorch.float32: float(np.finfo(np.float32).max),
         plugtorch.float64: float(np.finfo(np.float64).max)}
_ROUND = {plugtorch.float16: struct.Struct("e"), plugtorch.float32: struct.Struct("f"),
          plugtorch.float64: None}


def scalar_arg(value, dtype):
    """A Python number as the by-value kernel argument of `dtype`: a Python int or float
    (a runtime packs those directly; numpy scalars take a slow path in pyopencl).

    Integers wrap as the CPU's unsafe cast does; floats are rounded to `dtype` first, so
    values beyond its range become inf as on the CPU instead of failing to pack.
    """
    if dtype is plugtorch.bool:
        return 1 if value else 0
    if dtype.kind == 1:
        bits = dtype.itemsize * 8
        v = int(value) & ((1 << bits) - 1)
        if dtype.is_signed and v >= 1 << (bits - 1):
            v -= 1 << bits
        return v
    if type(value) is float and -_FMAX[dtype] <= value <= _FMAX[dtype]:
        # in range (not NaN or inf): struct rounds to nearest even as numpy does, without
        # np.errstate's ~2 us a call
        s = _ROUND[dtype]
        return value if s is None else s.unpack(s.pack(value))[0]
    with np.errstate(over="ignore"):
        return float(dtype.np.type(value))
