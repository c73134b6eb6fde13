"""Switches for gradient recording: no_grad, enable_grad, set_grad_enabled, inference_mode.

Each works as a context manager and as a decorator. The state is per thread.
"""
import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]


class _State(threading.local):
    def __init__(self):
        self.enabled = True
        self.inference = False


STATE = _State()


def is_grad_enabled():
    return STATE.enabled


def is_inference_mode_enabled():
    return STATE.inference


class _Mode:
    """Base: subclasses set `_target()`; usable as `with` and as a decorator."""

    def __call__(self, fn):
        if isinstance(fn, type) or not callable(fn):
            raise TypeError(f"{type(self).__name__} can decorate functions only")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)
        return wrapper

    _args = ()

    def __enter__(self):
        self._prev = (STATE.enabled, STATE.inference)
        self._apply()
        return self

    def __exit__(self, *exc):
        STATE.enabled, STATE.inference = self._prev
        return False


class no_grad(_Mode):
    """Disable gradient recording: results of ops inside have requires_grad=False.

    Example:
        >>> import plugtorch as torch
        >>> x = torch.ones(2, requires_grad=True)
        >>> with torch.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self, orig_func=None):
        if callable(orig_func):
            raise TypeError("use @no_grad() with parentheses")

    def _apply(self):
        STATE.enabled = False


class enable_grad(_Mode):
    """Enable gradient recording inside a no_grad block."""

    def _apply(self):
        STATE.enabled = True


class set_grad_enabled(_Mode):
    """Set gradient recording on or off; takes effect at once, and as a context manager
    restores the previous state on exit."""

    def __init__(self, mode):
        self._args = (mode,)
        self._prev = (STATE.enabled, STATE.inference)
        self._mode = bool(mode)
        STATE.enabled = self._mode

    def _apply(self):
        STATE.enabled = self._mode

    def __enter__(self):
        return self


class inference_mode(_Mode):
    """Like no_grad; tensors made inside are inference tensors (no version tracking needed)."""

    def __init__(self, mode=True):
        self._args = (mode,)
        self._mode = bool(mode)

    def _apply(self):
        if self._mode:
            STATE.enabled = False
            STATE.inference = True
