"""The files of a checkpoint: atomic saves' temporary files and the checked reading of an
archive's entries (NOTE [checkpoint format] in serialization.py)."""
import contextlib
import io
import os
import re
import socket
import zipfile

import numpy as np

_PREFIX = "archive/"        # the folder `save` writes entries under


# ----------------------------------------------------------------------------- save

def _file_mode(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# NOTE [save temporary files]
# `save(obj, path)` writes ".<name>.<host>.<pid>.<random>.tmp" next to the target, naming the
# host and process that write it. A killed save leaves its file behind; the next save of
# the same target removes those whose writer was on this host and is no longer running. A
# temporary file of a live process (a save still running, here or in another thread or
# process) or of another host (a shared file system) is never touched; a pid the system
# has since reused only delays the removal to a later save.

def _temporary_prefix(base):
    return f".{base}.{socket.gethostname()}.{os.getpid()}."


def _remove_stale_temporaries(directory, base):
    head, host = f".{base}.", socket.gethostname()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(head) and name.endswith(".tmp")):
            continue
        parts = name[len(head):-len(".tmp")].rsplit(".", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit() or \
                not _TEMP_RANDOM.fullmatch(parts[2]) or _process_alive(int(parts[1])):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))


_TEMP_RANDOM = re.compile(r"[a-z0-9_]{8}")      # what tempfile.mkstemp puts in a name


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:         # exists, owned by someone else
        return True
    return True


def _fsync_dir(directory):
    # makes the rename itself durable; not possible on every platform
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- load

def _open_archive(f):
    if isinstance(f, (str, os.PathLike)):
        fh = open(f, "rb")
        return fh, fh
    if not hasattr(f, "read"):
        raise AttributeError(f"load: expected a path or a binary file object with read(), "
                             f"got {type(f).__name__}")
    seekable = getattr(f, "seekable", None)
    if seekable is None or not seekable():
        return io.BytesIO(f.read()), None
    return f, None


def _corrupt(name, why):
    return RuntimeError(f"load: {name} is not a valid checkpoint: {why} (the file is "
                        f"truncated or corrupted, or was not written by plugtorch.save or "
                        f"torch.save)")


# how PyTorch's legacy non-zip format begins: a pickle (protocol 2) of its magic number
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


class _Archive:
    """The entries of a checkpoint, each checked against the archive before it is read.

    A checkpoint holds each entry once, uncompressed, under the folder of its first entry
    (`prefix`); anything else (a compressed or duplicated entry, sizes that disagree or reach
    past the end of the file) is refused before a byte of it is read, so reading costs no
    more memory than the file's own size.
    """

    def __init__(self, fh, name):
        self.name = name
        try:
            size = fh.seek(0, io.SEEK_END)
            fh.seek(0)
            head = fh.read(len(_LEGACY_MAGIC))
            fh.seek(0)
            self.zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
            if head == _LEGACY_MAGIC:
                raise RuntimeError(f"load: {name} is in PyTorch's legacy non-zip format, "
                                   f"which plugtorch does not read; load it with PyTorch and "
                                   f"save it again with torch.save's default format") from e
            raise _corrupt(name, f"not a readable zip archive ({e})") from e
        self.size = size
        self.entries = {}
        for info in self.zf.infolist():
            if info.filename in self.entries:
                self.zf.close()
                raise _corrupt(name, f"entry '{info.filename}' appears more than once")
            self.entries[info.filename] = info
        first = next(iter(self.entries), "")
        self.prefix = first[:first.index("/") + 1] if "/" in first else _PREFIX

    def has(self, entry):
        return self.prefix + entry in self.entries

    def info(self, entry, expected_size=None):
        full = self.prefix + entry
        info = self.entries.get(full)
        if info is None:
            raise _corrupt(self.name, f"entry '{full}' is missing")
        if info.compress_type != zipfile.ZIP_STORED:
            raise _corrupt(self.name, f"entry '{full}' is compressed (zip method "
                                      f"{info.compress_type}); checkpoints store entries "
                                      f"uncompressed")
        if info.compress_size != info.file_size or \
                info.header_offset + info.file_size > self.size:
            raise _corrupt(self.name, f"entry '{full}' declares {info.file_size} bytes, more "
                                      f"than the file holds")
        if expected_size is not None and info.file_size != expected_size:
            raise _corrupt(self.name, f"entry '{full}' holds {info.file_size} bytes, expected "
                                      f"{expected_size}")
        return info

    def read(self, entry, limit=None):
        """The bytes of a record entry, refused when larger than `limit`."""
        info = self.info(entry)
        if limit is not None and info.file_size > limit:
            raise _corrupt(self.name, f"entry '{info.filename}' holds {info.file_size} bytes, "
                                      f"expected at most {limit}")
        with self._reading(info):
            return self.zf.read(info)

    def read_into(self, entry, array):
        """Stream a storage entry into `array`, whose size the entry must match exactly."""
        out = array.reshape(-1).view(np.uint8)
        info = self.info(entry, expected_size=out.size)
        with self._reading(info), self.zf.open(info) as src:
            pos = 0
            while pos < out.size:
                n = src.readinto(memoryview(out[pos:pos + _CHUNK]))
                if not n:
                    raise EOFError(f"{out.size - pos} bytes short")
                pos += n
            src.read(1)                 # reaching the end checks the CRC-32

    @contextlib.contextmanager
    def _reading(self, info):
        try:
            yield
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
            raise _corrupt(self.name, f"entry '{info.filename}': {e}") from e


_CHUNK = 1 << 22
