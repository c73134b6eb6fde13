"""Step capture: replay a recorded training step without the Python that made it.

Two entry points, shaped like PyTorch's and working on every backend
(NOTE [step capture] in plugtorch/_capture.py tells how):

- `compile(step, mode="reduce-overhead")` (also `plugtorch.compile`): wraps a function
  doing one whole step (forward, backward, optimizer). Its first call runs eagerly (lazy
  state such as momentum buffers appears), the next two run eagerly while being recorded,
  and if both recordings did the same work every later call with arguments of the same
  shapes copies its tensor arguments into the recording's inputs and replays. It returns
  copies of the step's results. A step that cannot be replayed (it reads values on the host,
  returns tensors that require grad, or differs between the two recordings) runs eagerly,
  with one `CaptureWarning` saying why. Other modes return `step` unchanged.
- `Graph` with the `graph(g)` context manager (`plugtorch.cuda.CUDAGraph` and
  `plugtorch.cuda.graph` are the same): capture records without running anything, as CUDA
  graph capture does; `g.replay()` runs it. Warm up first (run the step eagerly a few times),
  feed new data by copying into the tensors used during capture, read results from the
  tensors it produced. A host read during capture raises `CaptureError`.

Restrictions (both): static shapes; numbers computed on the host during the step (a learning
rate from a scheduler, a step count) are frozen into the recording — re-capture after
changing them (`compile`: `step.reset()`), or keep them in tensors; the autograd graph is
not recorded, so capture whole steps, not a forward whose result you backpropagate later;
Python state (`.grad` set to None or not, optimizer state) must be the same at every call:
call `zero_grad()` inside the step. Each replay draws fresh random numbers.
"""
import threading
import warnings

from . import _capture
from ._capture import CaptureError
from ._tensor import Tensor

__all__ = ["Graph", "graph", "graph_pool_handle", "compile", "CapturedStep", "CaptureError",
           "CaptureWarning"]


class CaptureWarning(UserWarning):
    """A step could not be captured and runs eagerly."""


# ----------------------------------------------------------------------------- Graph

class Graph:
    """A recorded sequence of kernel calls (PyTorch's `torch.cuda.CUDAGraph`, on any
    device). Capture with `with plugtorch.graphs.graph(g): ...`, then `g.replay()`."""

    def __init__(self, keep_graph=False):
        self._recorder = None
        self._trace = None

    def capture_begin(self, pool=None, capture_error_mode="global"):
        if self._recorder is not None:
            raise CaptureError("Graph.capture_begin: this graph is already capturing")
        rec = _capture.Recorder(execute=False)
        rec.__enter__()
        self._recorder = rec

    def capture_end(self):
        rec = self._recorder
        if rec is None:
            raise CaptureError("Graph.capture_end: capture_begin was not called")
        rec.__exit__(None, None, None)
        self._recorder = None
        self._trace = rec.trace
        self._names = rec.names

    def _abort(self):
        if self._recorder is not None:
            self._recorder.__exit__(None, None, None)
            self._recorder = None

    def replay(self):
        """Run every recorded call again, in order."""
        if self._trace is None:
            raise CaptureError("Graph.replay: nothing was captured (use plugtorch.graphs.graph(g))")
        _capture.replay(self._trace)

    def reset(self):
        """Forget the recording and the memory it holds."""
        self._abort()
        self._trace = None

    def pool(self):
        """A memory-pool handle, accepted for PyTorch compatibility (each graph owns the
        buffers it recorded)."""
        return self

    def enable_debug_mode(self):
        pass

    def debug_dump(self, path):
        """Write the recorded calls, one per line, to `path`."""
        with open(path, "w") as f:
            for name in (self._names if self._trace is not None else ()):
                f.write(name + "\n")

    def __len__(self):
        return 0 if self._trace is None else len(self._trace)


class graph:
    """`with plugtorch.graphs.graph(g): ...` captures the block into Graph `g` (PyTorch's
    `torch.cuda.graph`; `pool`, `stream` and `capture_error_mode` are accepted)."""

    def __init__(self, cuda_graph, pool=None, stream=None, capture_error_mode="global"):
        if not isinstance(cuda_graph, Graph):
            raise TypeError(f"graph: expected a plugtorch.graphs.Graph, got "
                            f"{type(cuda_graph).__name__}")
        self.graph = cuda_graph

    def __enter__(self):
        self.graph.capture_begin()
        return self.graph

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.graph._abort()
            return False
        self.graph.capture_end()
        return False


def graph_pool_handle():
    """An opaque pool handle (each Graph owns its buffers; accepted for compatibility)."""
    return object()


# ----------------------------------------------------------------------------- compile

def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, disable=False):
    """PyTorch's `torch.compile` entry point. `mode="reduce-overhead"` captures a step
    function (see the module's help); any other mode, `disable=True` or a Module returns
    `model` unchanged (plugtorch has no compiler: it runs eagerly)."""
    def wrap(fn):
        if disable or mode != "reduce-overhead":
            return fn
        from .nn import Module
        if isinstance(fn, Module):
            warnings.warn("compile(mode='reduce-overhead') captures whole step functions "
                          "(forward, backward and optimizer step); a Module runs eagerly",
                          CaptureWarning, stacklevel=3)
            return fn
        return CapturedStep(fn)
    return wrap if model is None else wrap(model)


class CapturedStep:
    """A step function that is recorded and then replayed (`compile(fn,
    mode="reduce-overhead")`).

    warmup: eager calls before recording. check_every: every that many replays, record
    the step again instead and compare it with the recording (0: never); a difference makes
    the step eager with a warning.
    """

    def __init__(self, fn, warmup=1, check_every=0):
        self.fn = fn
        self.warmup = warmup
        self.check_every = check_every
        self._states = {}
        self._lock = threading.RLock()
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    def reset(self):
        """Forget every recording (after changing a learning rate, say)."""
        with self._lock:
            self._states.clear()

    @property
    def replays(self):
        return sum(s.replays for s in self._states.values())

    def __call__(self, *args, **kwargs):
        with self._lock:
            leaves = []
            try:
                key = (_key(args, leaves), _key(kwargs, leaves))
                hash(key)
            except TypeError:
                return self.fn(*args, **kwargs)       # an unhashable argument: eager
            st = self._states.get(key)
            if st is None:
                st = self._states[key] = _State()
            if st.eager is not None:
                return self.fn(*args, **kwargs)
            if st.calls < self.warmup:
                st.calls += 1
                return self.fn(*args, **kwargs)
            if any(t._rg for t in leaves):
                return self._give_up(st, "a tensor argument requires grad", args, kwargs)
            if st.inputs is None:
                st.inputs = [t.detach().clone() for t in leaves]
            else:
                _copy_into(st.inputs, leaves)
            if st.rec is not None and not (self.check_every and
                                           (st.replays + 1) % self.check_every == 0):
                st.replays += 1
                _capture.replay(st.rec.trace)
                return _clone(st.out)
            sargs, skwargs = _substitute(args, st.inputs), _substitute(kwargs, st.inputs)
            rec = _capture.Recorder(execute=True)
            with rec:
                out = self.fn(*sargs, **skwargs)
            why = rec.abandoned or _grad_outputs(out)
            if why:
                return self._eager(st, why, out)
            if st.rec is not None:            # a check: the step must not have changed
                st.replays += 1
                why = _capture.compare(st.rec, rec)
                if why:
                    return self._eager(st, "it changed since it was captured: " + why, out)
                return out
            if st.first is None:
                st.first = rec
                return out
            why = _capture.compare(st.first, rec)
            st.first = None
            if why:
                return self._eager(st, "two consecutive steps did different work: " + why, out)
            st.rec, st.out = rec, out
            return _clone(out)

    def _eager(self, st, why, out):
        st.eager = why
        st.first = st.rec = st.out = st.inputs = None
        warnings.warn(f"{getattr(self.fn, '__name__', 'step')}: not captured, running "
                      f"eagerly: {why}", CaptureWarning, stacklevel=3)
        return out

    def _give_up(self, st, why, args, kwargs):
        self._eager(st, why, None)
        return self.fn(*args, **kwargs)


class _State:
    __slots__ = ("calls", "inputs", "first", "rec", "out", "eager", "replays")

    def __init__(self):
        self.calls = self.replays = 0
        self.inputs = self.first = self.rec = self.out = self.eager = None


def _key(x, leaves):
    """A hashable description of an argument structure; tensors go to `leaves`."""
    if isinstance(x, Tensor):
        leaves.append(x)
        return ("T", x._shape, x._dtype, x._storage.device, x._rg)
    if isinstance(x, (tuple, list)):
        return (type(x).__name__,) + tuple(_key(v, leaves) for v in x)
    if isinstance(x, dict):
        return ("dict",) + tuple((k, _key(v, leaves)) for k, v in x.items())
    return ("V", type(x), x)


def _substitute(x, inputs, pos=None):
    pos = [0] if pos is None else pos
    if isinstance(x, Tensor):
        t = inputs[pos[0]]
        pos[0] += 1
        return t
    if isinstance(x, (tuple, list)):
        return type(x)(_substitute(v, inputs, pos) for v in x)
    if isinstance(x, dict):
        return {k: _substitute(v, inputs, pos) for k, v in x.items()}
    return x


def _copy_into(statics, leaves):
    from .autograd.grad_mode import no_grad
    with no_grad():
        for s, t in zip(statics, leaves):
            s.copy_(t)


def _grad_outputs(out):
    """Why `out` cannot be replayed: it holds a tensor whose autograd graph was not used
    by a backward within the step (a replay returns copies without a graph)."""
    bad = []
    _walk(out, lambda t: bad.append(t) if t._node is not None and
          not getattr(t._node, "freed", False) else None)
    if bad:
        return ("it returns a tensor with an autograd graph that no backward in the step "
                "used (capture records whole steps: forward, backward, optimizer)")
    return None


def _walk(x, fn):
    if isinstance(x, Tensor):
        fn(x)
    elif isinstance(x, (tuple, list)):
        for v in x:
            _walk(v, fn)
    elif isinstance(x, dict):
        for v in x.values():
            _walk(v, fn)


def _clone(x):
    if isinstance(x, Tensor):
        return x.detach().clone()
    if isinstance(x, (tuple, list)):
        return type(x)(_clone(v) for v in x)
    if isinstance(x, dict):
        return {k: _clone(v) for k, v in x.items()}
    return x
