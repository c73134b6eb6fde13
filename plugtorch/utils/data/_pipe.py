"""Worker-to-loader messages over one pipe per worker (NOTE [DataLoader pipes]).

NOTE [DataLoader pipes]
Each worker sends its results on a pipe of its own as ``header + payload`` (header: task
index and payload length). Both ends are non-blocking and every wait is bounded:

- the loader reads whatever a pipe holds into that worker's buffer and only hands on
  complete messages, so a worker that dies half way through a large batch leaves an
  incomplete buffer behind, never a read that waits for bytes that will not come;
- a worker writes in slices as the pipe drains, giving up when `keep_going()` turns false
  (the loader is shutting down or has died), so it never blocks its own exit;
- no lock is shared between workers, so a killed worker cannot leave one held.
"""
import os
import select
import struct

_HEADER = struct.Struct("<qQ")      # task index (RESUME for the echo of ResumeIteration), size
RESUME = -1
_POLL = 0.1                         # seconds between a blocked writer's checks of keep_going
_CHUNK = 1 << 20


def send(fd, idx, payload, keep_going):
    """Write one message to the non-blocking pipe `fd`; False if given up (reader gone)."""
    for part in (_HEADER.pack(idx, len(payload)), payload):
        view = memoryview(part)
        while view:
            try:
                view = view[os.write(fd, view):]
                continue
            except BlockingIOError:
                pass
            except BrokenPipeError:
                return False
            select.select([], [fd], [], _POLL)
            if not keep_going():
                return False
    return True


class Reader:
    """The loader's end of one worker's pipe: `pump` returns the messages complete so far."""

    def __init__(self, conn):
        self.conn = conn                # a multiprocessing Connection, for connection.wait
        self.fd = conn.fileno()
        os.set_blocking(self.fd, False)
        self.eof = False                # the worker closed its end (it exited)
        self._buf = bytearray()

    def pump(self):
        """Read what the pipe holds now, without waiting; return [(idx, payload), ...]."""
        while not self.eof:
            try:
                chunk = os.read(self.fd, _CHUNK)
            except BlockingIOError:
                break
            self.eof = not chunk
            self._buf += chunk
        messages = []
        buf = self._buf
        while len(buf) >= _HEADER.size:
            idx, size = _HEADER.unpack_from(buf)
            end = _HEADER.size + size
            if len(buf) < end:
                break
            messages.append((idx, bytes(buf[_HEADER.size:end])))
            del buf[:end]
        return messages

    def close(self):
        self.conn.close()
