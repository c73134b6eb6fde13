#!/usr/bin/env bash
# One-shot check of the cuda backend on a machine with an NVIDIA GPU and this working tree.
#
#   OUT=/some/dir bash backends/cuda/gpu_check.sh        (from the repository root)
#
# Writes everything under $OUT (default: ./gpu_check_out): a log per step, summary.txt, the
# GPU tests' junit XML, the conformance report (conformance.md, with conformance.log) and
# the benchmark JSON (bench.json). Every step has its own time limit, cut to what is left of
# the whole run's budget (BUDGET, 480 s), and a failing step does not stop the next. Exit
# status: 0 when every step passed, else 1.
#
# Environment:
#   OUT            where results go
#   PLUGTORCH_VENV an existing virtual environment to use instead of creating one
#   PYTHON         the interpreter that creates the venv (default: python3)
#   WHEELHOUSE     a directory of wheels for an offline install (pip --find-links)
#   BUDGET         seconds for the whole run (default 480); a step that would start with
#                  under 15 s left is skipped
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
PYTHON="${PYTHON:-python3}"
BUDGET="${BUDGET:-480}"
SUMMARY="$OUT/summary.txt"
STATUS=0
: > "$SUMMARY"
cd "$ROOT" || exit 1

note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME SECONDS COMMAND...: run COMMAND with a time limit (SIGINT first, so pytest
# still writes its reports), log to $OUT/NAME.log, record the outcome in summary.txt
step() {
    local name="$1" limit="$2"
    shift 2
    local left=$(( BUDGET - SECONDS ))
    if [ "$left" -lt 15 ]; then
        note "SKIP    $name (the ${BUDGET}s budget is spent)"
        STATUS=1
        return 1
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    local start=$SECONDS
    echo "== $name (limit ${limit}s): $*" | tee "$OUT/$name.log"
    timeout -s INT -k 20 "$limit" "$@" >> "$OUT/$name.log" 2>&1
    local rc=$?
    local took=$(( SECONDS - start ))
    if [ "$rc" -eq 0 ]; then
        note "PASS    $name (${took}s)"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 130 ] || [ "$rc" -eq 137 ]; then
        note "TIMEOUT $name after ${took}s (rc $rc, see $name.log)"
        STATUS=1
    else
        note "FAIL    $name rc=$rc (${took}s, see $name.log)"
        STATUS=1
    fi
    tail -n 5 "$OUT/$name.log"
    return "$rc"
}

note "gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) in $ROOT"
note "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) changed files"
step nvidia-smi 20 nvidia-smi || true

# ---------------------------------------------------------------- environment
if [ -n "${PLUGTORCH_VENV:-}" ]; then
    VENV="$PLUGTORCH_VENV"
    note "using the environment $VENV"
else
    VENV="$OUT/venv"
    # system site packages: a machine with CuPy or PyTorch installed lends them
    step venv 45 "$PYTHON" -m venv --system-site-packages "$VENV" || true
fi
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
    note "no usable python in $VENV; falling back to $PYTHON"
    PY="$(command -v "$PYTHON")"
fi
# fail fast without a network instead of retrying for minutes
PIP=("$PY" -m pip install --disable-pip-version-check --retries 1 --timeout 20)
if [ -n "${WHEELHOUSE:-}" ]; then
    PIP+=(--find-links "$WHEELHOUSE")
fi
if [ -z "${PLUGTORCH_VENV:-}" ]; then
    if ! step install 180 "${PIP[@]}" -e ".[cuda,dev]"; then
        # offline, or no wheel for a dependency: plugtorch itself without dependencies,
        # the rest from what the machine already has
        step install-offline 60 "${PIP[@]}" --no-deps --no-build-isolation -e . || true
    fi
    # PyTorch (CPU) is the oracle of the conformance suite's torch checks; optional
    step install-torch 90 "${PIP[@]}" "torch==2.13.0+cpu" \
        --extra-index-url https://download.pytorch.org/whl/cpu || true
fi
step versions 30 "$PY" -c "
import sys, numpy, plugtorch
print('python', sys.version.split()[0], 'numpy', numpy.__version__)
try:
    import cupy; print('cupy', cupy.__version__, 'cuda runtime', cupy.cuda.runtime.runtimeGetVersion(), 'nvrtc', cupy.cuda.nvrtc.getVersion())
except Exception as e:
    print('cupy unavailable:', type(e).__name__, e)
try:
    import torch; print('torch', torch.__version__)
except Exception as e:
    print('torch unavailable:', e)
" || true
step info 30 "$PY" -m plugtorch info || true
if ! "$PY" -c "import plugtorch, sys; sys.exit(0 if plugtorch.cuda.is_available() else 1)" \
        >> "$OUT/info.log" 2>&1; then
    note "FAIL    cuda backend not available here (see info.log); nothing more to run"
    exit 1
fi

# ---------------------------------------------------------------- checks
# the GPU tests and the backend's own tests (fake CuPy ones included: they run anywhere)
step gpu-tests 120 "$PY" -m pytest -q -p no:randomly -p no:cacheprovider -rfEs \
    --junitxml="$OUT/gpu-tests.xml" tests/test_gpu_cuda.py tests/test_cuda_backend.py \
    tests/test_cuda_runtime.py tests/test_cuda_namespace.py || true
# the conformance suite on cuda: results, fallbacks and the op x dtype matrix
step conformance 240 "$PY" -m plugtorch conformance cuda --report "$OUT/conformance.md" \
    -p no:randomly -q || true
# cpu against cuda on the benchmark workloads
step bench 100 "$PY" -m plugtorch bench --backend cpu --backend cuda --time 0.3 \
    --json "$OUT/bench.json" || true

note "done in ${SECONDS}s; results in $OUT"
exit "$STATUS"
