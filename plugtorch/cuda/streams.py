"""CUDA streams and events (`plugtorch.cuda.Stream`, `Event`, `stream(...)`).

A stream is an ordered queue of device work. Within `with plugtorch.cuda.stream(s):` every
plugtorch kernel and transfer on s's device is queued on s; outside, on the device's current
stream. The objects wrap the "cuda" backend's handles (NOTE [cuda device interface] in
plugtorch_cuda/backend.py).
"""
from .._device import device as _Device

__all__ = ["Stream", "Event", "StreamContext", "stream", "current_stream", "default_stream"]


def _cuda():
    from .. import cuda
    return cuda


class Stream:
    """A new CUDA stream on `device` (default: the current CUDA device).

    Args:
        device: an index, "cuda:i" or a plugtorch.device.
        priority: lower numbers run first (0 is the default priority).
    """

    def __init__(self, device=None, priority=0, _handle=None):
        if _handle is None:
            cuda = _cuda()
            backend = cuda._backend("Stream")
            _handle = backend.new_stream(cuda._index("Stream", device, backend), priority)
        self._handle = _handle
        self.device = _Device("cuda", _handle.index)

    @property
    def cuda_stream(self):
        """The raw cudaStream_t, as an int."""
        return self._handle.ptr

    def query(self):
        """Whether all work queued on the stream is done."""
        return self._handle.query()

    def synchronize(self):
        """Wait until all work queued on the stream is done."""
        self._handle.synchronize()

    def wait_event(self, event):
        """Make later work on this stream wait for `event`."""
        if event._handle is not None:
            self._handle.wait_event(event._handle)

    def wait_stream(self, stream):
        """Make later work on this stream wait for the work queued on `stream` so far."""
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        """Record `event` (a new one if None) on this stream; returns it."""
        event = Event() if event is None else event
        event.record(self)
        return event

    def __eq__(self, other):
        return isinstance(other, Stream) and self.cuda_stream == other.cuda_stream and \
            self.device == other.device

    def __hash__(self):
        return hash((self.cuda_stream, self.device))

    def __repr__(self):
        return f"<plugtorch.cuda.Stream device={self.device} cuda_stream={self.cuda_stream:#x}>"


class Event:
    """A CUDA event: a marker in a stream to wait for or to time work with.

    Creating one needs no GPU; the device event is made when it is first recorded.

    Args:
        enable_timing: whether `elapsed_time` can measure from this event.
        blocking: whether `synchronize` blocks the thread instead of spinning.
        interprocess: not supported (must be False).
    """

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        if interprocess:
            raise NotImplementedError("Event: interprocess events are not supported")
        self.enable_timing, self.blocking = enable_timing, blocking
        self._handle = None

    def record(self, stream=None):
        """Record the event on `stream` (default: the current stream of the current device)."""
        stream = current_stream() if stream is None else stream
        if self._handle is None:
            self._handle = _cuda()._backend("Event.record").new_event(
                stream.device.index, self.enable_timing, self.blocking)
        stream._handle.record(self._handle)

    def wait(self, stream=None):
        """Make later work on `stream` (default: the current stream) wait for this event."""
        (current_stream() if stream is None else stream).wait_event(self)

    def query(self):
        """Whether the work before the event's record is done (True if never recorded)."""
        return True if self._handle is None else self._handle.query()

    def synchronize(self):
        """Wait until the work before the event's record is done."""
        if self._handle is not None:
            self._handle.synchronize()

    def elapsed_time(self, end_event):
        """Milliseconds between this event and `end_event`, both recorded with timing."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("elapsed_time: both events must be created with "
                               "enable_timing=True")
        if self._handle is None or end_event._handle is None:
            raise RuntimeError("elapsed_time: both events must be recorded first")
        return self._handle.elapsed_time(end_event._handle)

    def __repr__(self):
        return f"<plugtorch.cuda.Event {'recorded' if self._handle else 'not recorded'}>"


def current_stream(device=None):
    """The stream work on `device` (default: the current CUDA device) is queued on now."""
    cuda = _cuda()
    backend = cuda._backend("current_stream")
    return Stream(_handle=backend.current_stream(cuda._index("current_stream", device,
                                                             backend)))


def default_stream(device=None):
    """The default (null) stream of `device`."""
    cuda = _cuda()
    backend = cuda._backend("default_stream")
    return Stream(_handle=backend.default_stream(cuda._index("default_stream", device,
                                                             backend)))


class StreamContext:
    """Context manager that makes `stream` current on its device (and that device current)
    within the block; a None stream changes nothing."""

    def __init__(self, stream):
        self.stream = stream
        self._cm = None

    def __enter__(self):
        if self.stream is not None:
            cuda = _cuda()
            self._previous = cuda.current_device()
            self._cm = self.stream._handle.use()
            self._cm.__enter__()
            cuda.set_device(self.stream.device.index)
        return self.stream

    def __exit__(self, *exc):
        if self._cm is not None:
            cm, self._cm = self._cm, None
            try:
                return cm.__exit__(*exc)     # on the stream's device, before switching back
            finally:
                _cuda().set_device(self._previous)


def stream(stream):
    """`with plugtorch.cuda.stream(s):` queues plugtorch's work on s within the block."""
    return StreamContext(stream)
