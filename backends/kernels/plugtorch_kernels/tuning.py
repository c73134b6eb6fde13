"""Per-device tuning: the numbers launch plans and generators choose by, in one place.

A runtime says what kind of device it drives (`Runtime.kind`: "cpu", "gpu" or "other")
and how many compute units it has; everything else here is the same on every device. What
is measured per device instead (the matmul kernel) is autotune.py's.

NOTE [launch geometry]
PoCL compiles a kernel again for every new work-group size, so every 1-d launch uses a
fixed local size (`LOCAL_SIZE`) and a global size rounded up to it
(geometry.global_size); kernels take the real element count and return early past it.
"""
import plugtorch

LOCAL_SIZE = 64
LOCAL = (LOCAL_SIZE,)

#: elements per work-item of an elementwise launch on a CPU device, at most (NOTE
#: [elementwise chunks] in elementwise.py); it aims for CHUNK_GROUPS work-groups per
#: compute unit, so the cores share the work evenly, but no fewer than GROUP_ELEMENTS
#: elements per work-group: each work-group costs PoCL ~0.5 us (an add of 4096 floats:
#: 64 work-groups 16 us, one 9 us)
CHUNK_MAX = 256
CHUNK_GROUPS = 4
GROUP_ELEMENTS = 4096

#: matmul kernel variants the tuner tries, per dtype (NOTE [register-blocked matmul] in
#: matmul.py; NOTE [matmul tuning] in autotune.py): CPU-shaped register blocks in 8- and
#: 16-wide vectors, GPU-shaped local-memory tiles, and the scalar block
BMM_CANDIDATES = {plugtorch.float32: (
    "v6x16w8", "v8x16w8", "v4x32w8", "v6x32w16", "v12x16w16", "v8x32w16", "v14x32w16",
    "v8x8w8", "l32x32k16", "l64x64k8", "s8x8")}
#: the work-group size of a matmul on a CPU device with fewer blocks than LOCAL_SIZE per
#: compute unit (a (128, 10) output is 32 blocks: one group of 64 would leave a core idle)
BMM_SMALL_GROUP = 8
#: device kind -> dtype -> the variant used without tuning (PLUGTORCH_TUNE=0, or before a
#: search); any other dtype takes "s8x8"
BMM_DEFAULT = {"cpu": {plugtorch.float32: "v6x16w8"}, "gpu": {}, "other": {}}

#: reductions split into a second pass when there are fewer outputs than REDUCE_FEW_OUTPUTS
#: and at least REDUCE_LONG elements each (NOTE [reduction layout] in reductions.py)
REDUCE_FEW_OUTPUTS = 256
REDUCE_LONG = 4096
REDUCE_TARGET_ITEMS = 512     # work-items the first pass aims for
REDUCE_MIN_CHUNK = 1024       # elements per work-item at least
#: outputs per work-item of the `redcol` reduction kernel (reductions.RC: a cache line of
#: float32), and the reduced elements per part it aims for
REDUCE_COLUMNS = 16
REDUCE_COL_ROWS = 256

#: nonzero counts in chunks of at least this many elements, in at most NONZERO_PARTS
NONZERO_CHUNK = 4096
NONZERO_PARTS = 1024


def elementwise_chunk(kind, n, compute_units=1):
    """Elements per work-item of an elementwise launch over n elements: 1 on a GPU (its
    neighbouring threads read neighbouring elements), up to CHUNK_MAX on a CPU device."""
    if kind != "cpu":
        return 1
    groups = max(1, min(CHUNK_GROUPS * max(1, compute_units), n // GROUP_ELEMENTS))
    return max(1, min(CHUNK_MAX, -(-n // (groups * LOCAL_SIZE))))


def bmm_default(kind, dt):
    """The matmul variant of dtype dt on a `kind` device when nothing was tuned."""
    return BMM_DEFAULT.get(kind, {}).get(dt, "s8x8")


def reduce_parts(M, K):
    """Chunks per output of a reduction of M outputs of K elements each (1: one pass)."""
    if M < REDUCE_FEW_OUTPUTS and K >= REDUCE_LONG:
        return min(max(1, REDUCE_TARGET_ITEMS // M), K // REDUCE_MIN_CHUNK)
    return 1


def reduce_col_parts(K):
    """Parts of the K reduced elements of a `redcol` reduction (1: one pass)."""
    return max(1, K // REDUCE_COL_ROWS)


def nonzero_parts(n):
    """Work-items counting the nonzero elements of n."""
    return max(1, min(NONZERO_PARTS, n // NONZERO_CHUNK))
