"""Per-device tuning: the numbers launch plans and generators choose by, in one place.

A runtime says what kind of device it drives (`Runtime.kind`: "cpu", "gpu" or "other");
everything else here is the same on every device.

NOTE [launch geometry]
PoCL compiles a kernel again for every new work-group size, so every 1-d launch uses a
fixed local size (`LOCAL_SIZE`) and a global size rounded up to it
(geometry.global_size); kernels take the real element count and return early past it.
"""
import plugtorch

LOCAL_SIZE = 64
LOCAL = (LOCAL_SIZE,)

#: matmul blocks per work-item, (rows, columns): the scalar variant, and the 8-wide vector
#: variant (NOTE [register-blocked matmul] in matmul.py)
BMM_SCALAR_TILE = (8, 8)
BMM_VECTOR_TILE = (6, 16)
#: device kind -> dtypes whose matmul takes the vector variant (the 6 x 16 float32 block
#: fits the 16 AVX2 registers a CPU device has; GPUs keep the scalar block)
BMM_VECTOR_DTYPES = {"cpu": frozenset({plugtorch.float32}), "gpu": frozenset(),
                     "other": frozenset()}

#: reductions split into a second pass when there are fewer outputs than REDUCE_FEW_OUTPUTS
#: and at least REDUCE_LONG elements each (NOTE [reduction layout] in reductions.py)
REDUCE_FEW_OUTPUTS = 256
REDUCE_LONG = 4096
REDUCE_TARGET_ITEMS = 512     # work-items the first pass aims for
REDUCE_MIN_CHUNK = 1024       # elements per work-item at least

#: nonzero counts in chunks of at least this many elements, in at most NONZERO_PARTS
NONZERO_CHUNK = 4096
NONZERO_PARTS = 1024


def bmm_vector(kind, dt, odt):
    """Whether matmul of dtype dt into odt takes the vector variant on a `kind` device."""
    return dt is odt and dt in BMM_VECTOR_DTYPES.get(kind, ())


def reduce_parts(M, K):
    """Chunks per output of a reduction of M outputs of K elements each (1: one pass)."""
    if M < REDUCE_FEW_OUTPUTS and K >= REDUCE_LONG:
        return min(max(1, REDUCE_TARGET_ITEMS // M), K // REDUCE_MIN_CHUNK)
    return 1


def nonzero_parts(n):
    """Work-items counting the nonzero elements of n."""
    return max(1, min(NONZERO_PARTS, n // NONZERO_CHUNK))
