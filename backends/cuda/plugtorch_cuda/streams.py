"""Stream and event handles that `plugtorch.cuda.Stream` / `Event` wrap (NOTE [cuda device
interface] in backend.py): the few operations plugtorch needs, over CuPy's objects."""
import contextlib


class StreamHandle:
    """A CuPy stream on device `index`."""
    __slots__ = ("cp", "index", "stream")

    def __init__(self, cp, index, stream):
        self.cp, self.index, self.stream = cp, index, stream

    @property
    def ptr(self):
        return self.stream.ptr

    def query(self):
        return self.stream.done

    def synchronize(self):
        self.stream.synchronize()

    def wait_event(self, event):
        self.stream.wait_event(event.event)

    def record(self, event):
        with self.cp.cuda.Device(self.index):
            self.stream.record(event.event)

    @contextlib.contextmanager
    def use(self):
        """Make this the current stream of its device (and its device the current one)
        within the block; every plugtorch kernel and transfer on it queues here."""
        with self.cp.cuda.Device(self.index), self.stream:
            yield self


class EventHandle:
    """A CuPy event."""
    __slots__ = ("cp", "event")

    def __init__(self, cp, event):
        self.cp, self.event = cp, event

    def query(self):
        return self.event.done

    def synchronize(self):
        self.event.synchronize()

    def elapsed_time(self, end):
        """Milliseconds from this event to `end` (both recorded, timing enabled)."""
        return self.cp.cuda.get_elapsed_time(self.event, end.event)
