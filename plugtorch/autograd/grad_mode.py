"""Switches for gradient recording: no_grad, enable_grad, set_grad_enabled, inference_mode.

Each works as a context manager and as a decorator. The state is per thread.
"""
import functools
import inspect
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
    """Base: subclasses set `_apply()`; usable as `with` and as a decorator."""
    _args = ()

    def __call__(self, fn):
        if isinstance(fn, type) or not callable(fn):
            raise TypeError(f"{type(self).__name__} can decorate functions only, got "
                            f"{type(fn).__name__}")
        cls, args = self.__class__, self._args

        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*a, **k):
                # the mode holds while the generator runs, not while its caller does
                gen = fn(*a, **k)
                value = None
                while True:
                    try:
                        with cls(*args):
                            value = gen.send(value)
                    except StopIteration as stop:
                        return stop.value
                    value = yield value
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with cls(*args):
                return fn(*a, **k)
        return wrapper

    def __enter__(self):
        self._prev = (STATE.enabled, STATE.inference)
        self._apply()
        return self

    def __exit__(self, *exc):
        STATE.enabled, STATE.inference = self._prev
        return False

    def clone(self):
        return self.__class__(*self._args)


class _BareDecorator(_Mode):
    """A mode that also decorates without parentheses: `@no_grad` as well as `@no_grad()`."""

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]) and \
                not isinstance(args[0], bool):
            return cls()(args[0])
        return super().__new__(cls)


class no_grad(_BareDecorator):
    """Disable gradient recording: results of ops inside have requires_grad=False.

    Works as a context manager and as a decorator (`@no_grad` or `@no_grad()`).

    Example:
        >>> import plugtorch as torch
        >>> x = torch.ones(2, requires_grad=True)
        >>> with torch.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def _apply(self):
        STATE.enabled = False


class enable_grad(_BareDecorator):
    """Enable gradient recording inside a no_grad block (context manager or decorator).

    Example:
        >>> import plugtorch as torch
        >>> x = torch.ones(2, requires_grad=True)
        >>> with torch.no_grad():
        ...     with torch.enable_grad():
        ...         y = x * 2
        >>> y.requires_grad
        True
    """

    def _apply(self):
        STATE.enabled = True


class set_grad_enabled(_Mode):
    """Turn gradient recording on or off.

    Called as a function it takes effect at once; as a context manager it restores the
    previous state on exit; as a decorator it applies to each call only.

    Args:
        mode (bool): whether to record gradients.

    Example:
        >>> import plugtorch as torch
        >>> x = torch.ones(2, requires_grad=True)
        >>> with torch.set_grad_enabled(False):
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self, mode):
        self._args = (mode,)
        self._prev = (STATE.enabled, STATE.inference)
        self._mode = bool(mode)
        STATE.enabled = self._mode

    def __call__(self, fn):
        # used as a decorator: the call that built us must not leave the mode switched
        STATE.enabled, STATE.inference = self._prev
        return super().__call__(fn)

    def _apply(self):
        STATE.enabled = self._mode

    def __enter__(self):
        return self


class inference_mode(_BareDecorator):
    """Like no_grad, for inference: no graph is recorded inside. `inference_mode(False)`
    leaves the current mode alone. Context manager or decorator.

    Example:
        >>> import plugtorch as torch
        >>> x = torch.ones(2, requires_grad=True)
        >>> with torch.inference_mode():
        ...     y = x * 2
        >>> y.requires_grad, torch.autograd.grad_mode.is_inference_mode_enabled()
        (False, False)
    """

    def __init__(self, mode=True):
        self._args = (mode,)
        self._mode = bool(mode)

    def _apply(self):
        if self._mode:
            STATE.enabled = False
            STATE.inference = True
