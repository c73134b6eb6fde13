"""Per-device tuning by measurement: which matmul kernel variant a device runs fastest.

NOTE [matmul tuning]
The fastest register block depends on the device far more than on the problem (6 x 16 in
8-wide vectors on an AVX2 CPU, a 16-wide block on an AVX-512 one, local-memory tiles on a
GPU), so the first float32 matmul on a device runs a short search: every candidate of
tuning.BMM_CANDIDATES (each a registered program, so the compile checks cover them) is
built, checked against numpy on an odd shape (a variant the device's compiler gets wrong is
dropped) and timed on two problems (a square one and an MLP-like one). A candidate slower
than SLOWER times the best so far on its first run is not timed further, so the search
takes seconds (most of it compiling, which PoCL's own cache makes cheap the second time);
the scalar variant, which computes every block edge, is always timed.

A variant computes full blocks only and leaves the edges to the scalar one (launch/
matmul.py), so the variant with the lowest total time is not the best for every output
shape: a 16-column block covers nothing of a product with N = 10. `bmm_variant` therefore
picks per output shape (M, N) the variant of least estimated time: the part its blocks
cover at its measured speed plus the rest at the scalar speed.

The result is kept on disk per device, in $PLUGTORCH_CACHE_DIR (default
$XDG_CACHE_HOME/plugtorch, else ~/.cache/plugtorch), one JSON file per device identity:
the runtime's `tuning_key()` (device name, driver and platform versions) plus a hash of
every candidate's source, so a new driver or a changed kernel searches again. A file is
written to a temporary name and renamed (atomic), and on load it must parse, name the same
identity, and hold a positive time (or null: dropped) for exactly its candidates, the
scalar one timed; anything else is ignored and searched again. PLUGTORCH_TUNE=0 skips the
search and the cache: each device kind takes tuning.BMM_DEFAULT where it covers the
output, the scalar variant elsewhere.
"""
import hashlib
import json
import os
import tempfile
import threading
import time

import numpy as np

from . import registry
from .matmul import variant
from .runtime import KernelBuildError
from .tuning import BMM_CANDIDATES, bmm_default

ENV_TUNE = "PLUGTORCH_TUNE"
ENV_CACHE = "PLUGTORCH_CACHE_DIR"
FORMAT = 1
SLOWER = 4.0
#: (B, M, K, N) of the timed problems
PROBLEMS = ((1, 512, 512, 512), (1, 128, 784, 256))
MIN_SECONDS = 0.02      # time each candidate on each problem for about this long
DEFAULT_GAIN = 4.0      # untuned: the default variant's speed over the scalar one's
_SHAPES = 4096          # output shapes remembered per device and dtype

_LOCK = threading.Lock()


def enabled():
    """Whether searches run (PLUGTORCH_TUNE is not 0/false/no/off)."""
    return os.environ.get(ENV_TUNE, "1").strip().lower() not in ("0", "false", "no", "off")


def cache_dir():
    d = os.environ.get(ENV_CACHE)
    if d:
        return d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "plugtorch")


def bmm_speeds(rt, dt):
    """{variant: speed (1 / seconds on the search problems)} of dtype dt on `rt`'s device,
    always with "s8x8": measured once per process and device (NOTE [matmul tuning]), or
    the kind's default variant (taken as DEFAULT_GAIN times the scalar one) when tuning is
    off or dt has no candidates."""
    key = ("bmm", dt)
    v = rt.tuned.get(key)
    if v is None:
        with _LOCK:
            v = rt.tuned.get(key)
            if v is None:
                v = rt.tuned[key] = _speeds(rt, dt)
    return v


def bmm_variant(rt, dt, M=1 << 20, N=1 << 20):
    """The matmul variant of least estimated time for an (M, N) output of dtype dt (NOTE
    [matmul tuning]); the default M and N ask for the fastest on large products."""
    shapes = rt.tuned.get(("bmm shapes", dt))
    if shapes is None:
        shapes = rt.tuned[("bmm shapes", dt)] = {}
    v = shapes.get((M, N))
    if v is None:
        speeds = bmm_speeds(rt, dt)
        scalar = speeds["s8x8"]
        best = (M * N / scalar, "s8x8")       # ties keep the scalar kernel: one launch
        for name, speed in speeds.items():
            tm, tn = variant(name)[1:3]
            covered = (M - M % tm) * (N - N % tn)
            t = covered / speed + (M * N - covered) / scalar
            if t < best[0]:
                best = (t, name)
        v = best[1]
        if len(shapes) > _SHAPES:
            shapes.clear()
        shapes[(M, N)] = v
    return v


def identity(rt, dt):
    """The identity a tuning result is valid for: the device, its driver, and the sources
    of the candidates; None when the runtime cannot name its device and driver."""
    key = rt.tuning_key()
    if not key:
        return None
    h = hashlib.sha1()
    for name in BMM_CANDIDATES[dt]:
        h.update(registry.source(("bmm", dt, dt, name)).encode())
    return {"format": FORMAT, "op": "bmm", "dtype": dt.name, "device": dict(key),
            "candidates": list(BMM_CANDIDATES[dt]), "sources": h.hexdigest()}


def cache_path(ident):
    digest = hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:20]
    return os.path.join(cache_dir(), f"tuning-bmm-{digest}.json")


def load(path, ident):
    """{variant: seconds or None} of a cache file for `ident`, or None when the file is
    missing, unreadable or does not match: another identity, other variants, a time that
    is not a positive number, or no time for the scalar variant."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("identity") != ident:
        return None
    seconds = data.get("seconds")
    if not isinstance(seconds, dict) or sorted(seconds) != sorted(ident["candidates"]):
        return None
    for t in seconds.values():
        if t is not None and (type(t) not in (int, float) or not 0 < t < float("inf")):
            return None
    return seconds if seconds.get("s8x8") else None


def save(path, ident, seconds):
    """Write the result atomically (a temporary file renamed over `path`); a directory that
    cannot be written only costs the next process a search."""
    timed = {n: t for n, t in seconds.items() if t is not None}
    data = {"identity": ident, "seconds": seconds, "fastest": min(timed, key=timed.get)}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tuning-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def _speeds(rt, dt):
    default = bmm_default(rt.kind, dt)
    fallback = {"s8x8": 1.0, default: DEFAULT_GAIN} if default != "s8x8" else {"s8x8": 1.0}
    if dt not in BMM_CANDIDATES or not enabled():
        return fallback
    ident = identity(rt, dt)
    path = cache_path(ident) if ident else None
    seconds = load(path, ident) if path else None
    if seconds is None:
        seconds = search(rt, dt, BMM_CANDIDATES[dt])
        if not seconds.get("s8x8"):
            return fallback
        if path:
            save(path, ident, seconds)
    return {n: 1.0 / t for n, t in seconds.items() if t is not None}


# ----------------------------------------------------------------------------- the search

def _upload(rt, arr):
    return rt.upload(np.ascontiguousarray(arr))


def check(rt, dt, name, rng=None):
    """Whether variant `name` computes a batched product of odd shape (full blocks and both
    edge strips, an offset a) as numpy does in float64."""
    from .launch.matmul import launch_bmm, block
    rng = rng or np.random.default_rng(0)
    tm, tn = block(name)
    B, M, K, N = 2, 2 * tm + 3, 37, 2 * tn + 5
    a = rng.standard_normal((B, M + 1, K)).astype(dt.np)
    b = rng.standard_normal((B, K, N)).astype(dt.np)
    ab, bb = _upload(rt, a), _upload(rt, b)
    out = np.zeros((B, M, N), dt.np)
    cb = _upload(rt, out)
    launch_bmm(rt, dt, dt, name, cb, 0, ab, K, (M + 1) * K, K, 1, bb, 0, K * N, N, B, M,
               N, K)
    got = rt.download(cb, 0, out)
    ref = a[:, 1:].astype(np.float64) @ b
    return bool(np.allclose(got, ref, rtol=1e-4, atol=1e-4 * np.sqrt(K)))


def _time(rt, fn, budget):
    """The least seconds of `fn(); synchronize` over runs lasting about `budget` seconds."""
    best, spent, runs = float("inf"), 0.0, 0
    while runs < 2 or (spent < budget and runs < 50):
        t0 = time.perf_counter()
        fn()
        rt.synchronize()
        dt = time.perf_counter() - t0
        best, spent, runs = min(best, dt), spent + dt, runs + 1
    return best


def search(rt, dt, names):
    """{variant: total seconds over PROBLEMS, or None when it failed its check, its build,
    or was left after one run as too slow (never "s8x8", which is always timed)}."""
    from .launch.matmul import launch_bmm
    rng = np.random.default_rng(0)
    bufs = []
    for B, M, K, N in PROBLEMS:
        a = rng.standard_normal((B, M, K)).astype(dt.np)
        b = rng.standard_normal((B, K, N)).astype(dt.np)
        bufs.append((B, M, K, N, _upload(rt, a), _upload(rt, b),
                     rt.allocate(B * M * N * dt.itemsize)))
    rt.synchronize()
    out, best = {}, [float("inf")] * len(PROBLEMS)
    for name in names:
        try:
            if not check(rt, dt, name, rng):
                out[name] = None
                continue
        except KernelBuildError:
            out[name] = None
            continue
        total = 0.0
        for p, (B, M, K, N, ab, bb, cb) in enumerate(bufs):
            def run():
                launch_bmm(rt, dt, dt, name, cb, 0, ab, 0, M * K, K, 1, bb, 0, K * N, N, B,
                           M, N, K)
            run()                                  # warm up (PoCL compiles per work-group)
            rt.synchronize()
            first = _time(rt, run, 0)
            if first > SLOWER * best[p] and name != "s8x8":
                total = None
                break
            t = min(first, _time(rt, run, MIN_SECONDS))
            best[p] = min(best[p], t)
            total += t
        out[name] = total
    return out
