"""Host memory reuse for large tensors (glibc).

NOTE [keeping freed host memory]
numpy takes every buffer from malloc. glibc serves large requests with fresh mmap()
mappings, or trims the heap top back to the kernel once enough of it is free; either way a
training step that frees and re-allocates the same few megabytes each iteration pays a page
fault for every 4 KiB it touches again, which measured up to four times the arithmetic
itself (log_softmax of 1024x1000 float32: 1.9 ms -> 7-8 ms). At backend load this raises
glibc's mmap threshold to 64 MiB and its trim threshold to 256 MiB, so freed buffers below
64 MiB go back to malloc's free lists and the next step reuses them: the process keeps up
to 256 MiB of freed memory instead of returning it to the system at once.

PLUGTORCH_CPU_MALLOC=system leaves malloc as it is; so does any MALLOC_MMAP_THRESHOLD_,
MALLOC_TRIM_THRESHOLD_ or MALLOC_TOP_PAD_ already in the environment (the user's own
tuning), and any C library other than glibc.
"""
import ctypes
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_state = None


def glibc_version():
    """'glibc 2.36' or None."""
    try:
        v = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None
    return v if v and v.startswith("glibc") else None


def keep_freed_memory():
    """Apply NOTE [keeping freed host memory] once per process; returns what is in effect
    (a short description, shown by `plugtorch info`)."""
    global _state
    if _state is None:
        _state = _apply()
    return _state


def _apply():
    if os.environ.get("PLUGTORCH_CPU_MALLOC", "reuse") == "system":
        return "system malloc (PLUGTORCH_CPU_MALLOC=system)"
    user = [k for k in _USER_SETTINGS if k in os.environ]
    if user:
        return f"system malloc (tuned by {', '.join(user)})"
    if glibc_version() is None:
        return "system malloc"
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and \
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    except (OSError, AttributeError):
        ok = False
    if not ok:
        return "system malloc (mallopt failed)"
    return (f"glibc malloc keeping freed memory (mmap threshold {MMAP_THRESHOLD >> 20} MiB, "
            f"trim threshold {TRIM_THRESHOLD >> 20} MiB)")
