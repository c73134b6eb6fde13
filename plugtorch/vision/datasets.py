"""Image datasets: MNIST (read from its IDX files) and the 8x8 handwritten `Digits`.

Both are map-style datasets whose samples are ``(image, target)``: the image a uint8 numpy
array ``HxW`` (pass ``transform=ToTensor()`` to get a float tensor), the target an int.

NOTE [IDX format]
An IDX file (MNIST's format, often gzip-compressed) is a 4-byte magic number, then one
big-endian uint32 per dimension, then the values in row-major order, big-endian:

    magic = 0x00 0x00 <type code> <number of dimensions>
    type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64

`read_idx` checks the magic and that the data is exactly as long as the header says, so a
truncated download is an error rather than a dataset of garbage.
"""
import gzip
import hashlib
import os
import struct
import tempfile
import urllib.error
import urllib.request

import numpy as np

from ..ops.creation import from_numpy
from ..utils.data import Dataset

__all__ = ["read_idx", "MNIST", "Digits"]

_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path):
    """Read an IDX file (raw or gzip-compressed) into a numpy array; NOTE [IDX format].

    Args:
        path (str): the file. Compression is detected from the content, not the name.

    Returns:
        numpy.ndarray with the file's shape, in native byte order.

    Example:
        >>> import os, tempfile, numpy as np
        >>> from plugtorch.vision.datasets import read_idx
        >>> p = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte")
        >>> with open(p, "wb") as f: _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]))
        >>> read_idx(p)
        array([7, 9], dtype=uint8)
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise RuntimeError(f"read_idx: {path} is a corrupted or truncated gzip file "
                               f"({e}); delete it and download it again") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise RuntimeError(f"read_idx: {path} is not an IDX file (its first bytes are "
                           f"{data[:4].hex(' ') or 'missing'}; expected 00 00 <type> <ndim> "
                           f"with type one of {', '.join(f'{k:02x}' for k in _IDX_TYPES)})")
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise RuntimeError(f"read_idx: {path} is truncated: its header announces {ndim} "
                           f"dimensions but the file has only {len(data)} bytes")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise RuntimeError(f"read_idx: {path} holds {len(data) - header} bytes of data but its "
                           f"header announces shape {shape} of {dtype.name} ({expected} bytes); "
                           f"the file is truncated or corrupted")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


class _ImageDataset(Dataset):
    """Images and labels held as numpy arrays (`_images`, `_labels`), with the optional
    `transform` / `target_transform` applied per item."""

    @property
    def data(self):
        return from_numpy(self._images)

    @property
    def targets(self):
        return from_numpy(self._labels)

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        image, target = self._images[index], int(self._labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class MNIST(_ImageDataset):
    """The MNIST handwritten digits (60,000 train / 10,000 test images, 28x28, uint8).

    Files are looked for in ``<root>/MNIST/raw/``, gzip-compressed or not, under their
    usual names (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``).

    Args:
        root (str): the dataset's root directory.
        train (bool): the training set if True, else the test set.
        transform (callable, optional): applied to each image (a uint8 ``28x28`` numpy array).
        target_transform (callable, optional): applied to each target (an int).
        download (bool): fetch the four files (checked against their MD5 sums) when they are
            missing. Without network access this fails after a short timeout with a
            `RuntimeError` that says where to put the files.

    Attributes:
        data (Tensor): uint8 images, ``(N, 28, 28)``.
        targets (Tensor): int64 labels, ``(N,)``.

    Example:
        >>> from plugtorch.vision import datasets, transforms
        >>> ds = datasets.MNIST("data", train=False, download=True,  # doctest: +SKIP
        ...                     transform=transforms.ToTensor())
        >>> image, label = ds[0]  # doctest: +SKIP
    """

    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/",
               "http://yann.lecun.com/exdb/mnist/")
    resources = (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"))
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    timeout = 10.0  # seconds per network operation: an offline machine must not hang

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        self.root = os.path.expanduser(str(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download and self._missing():
            self.download()
        missing = self._missing()
        if missing:
            raise RuntimeError(self._missing_message(missing))
        prefix = "train" if train else "t10k"
        images = read_idx(self._find(f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(self._find(f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise RuntimeError(f"MNIST: {self.raw_folder} holds images of shape {images.shape} "
                               f"and labels of shape {labels.shape}; expected (N, H, W) and "
                               f"(N,) with the same N")
        self._images = np.ascontiguousarray(images, dtype=np.uint8)
        self._labels = labels.astype(np.int64)

    @property
    def raw_folder(self):
        return os.path.join(self.root, "MNIST", "raw")

    def _find(self, stem):
        """The path of `stem` (uncompressed preferred) or None."""
        for name in (stem, stem + ".gz"):
            path = os.path.join(self.raw_folder, name)
            if os.path.isfile(path):
                return path
        return None

    def _missing(self):
        return [name for name, _ in self.resources if self._find(name[:-3]) is None]

    def _missing_message(self, missing):
        return (f"MNIST: dataset files not found in {self.raw_folder}: missing "
                f"{', '.join(missing)}. Expected the four files "
                f"{', '.join(n for n, _ in self.resources)} (gzip-compressed or not). "
                f"Pass download=True to fetch them (needs network access), or download them "
                f"from an MNIST mirror (e.g. {self.mirrors[0]}) and copy them into "
                f"that directory.")

    def download(self):
        """Fetch the missing files into `raw_folder`, checking each file's MD5 sum."""
        os.makedirs(self.raw_folder, exist_ok=True)
        dead = set()  # a mirror that failed to connect is not asked again
        for name, md5 in self.resources:
            if self._find(name[:-3]) is not None:
                continue
            errors = []
            for mirror in self.mirrors:
                if mirror in dead:
                    continue
                try:
                    self._fetch(mirror + name, os.path.join(self.raw_folder, name), md5)
                    break
                except (urllib.error.URLError, OSError, ValueError) as e:
                    errors.append(f"{mirror + name}: {e}")
                    if isinstance(e, (urllib.error.URLError, TimeoutError)):
                        dead.add(mirror)
            else:
                raise RuntimeError(f"MNIST: could not download {name}:\n  "
                                   + "\n  ".join(errors or ["every mirror failed before"])
                                   + "\n" + self._missing_message(self._missing()))

    def _fetch(self, url, path, md5):
        # write to a temporary file in the same directory, then rename: an interrupted
        # download never leaves a partial file under the real name
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".part")
        try:
            digest = hashlib.md5()
            with os.fdopen(fd, "wb") as out, \
                    urllib.request.urlopen(url, timeout=self.timeout) as response:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != md5:
                raise ValueError(f"MD5 mismatch: got {digest.hexdigest()}, expected {md5}")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def __repr__(self):
        split = "Train" if self.train else "Test"
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    Split: {split}")


_DIGITS = []  # (images uint8 (N, 8, 8), labels int64 (N,)), loaded once per process


def _load_digits():
    if not _DIGITS:
        try:
            from sklearn.datasets import load_digits
        except ImportError as e:
            raise ImportError('Digits needs scikit-learn, which ships the 8x8 digits data: '
                              'install it with pip install "plugtorch[demo]" '
                              '(or pip install scikit-learn)') from e
        bunch = load_digits()
        # pixel values are counts 0..16; rescale to 0..255 so images look like any uint8
        # image and `ToTensor` maps them to [0, 1]
        images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
        _DIGITS.append((images, bunch.target.astype(np.int64)))
    return _DIGITS[0]


class Digits(_ImageDataset):
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes) with a fixed split.

    The data ships inside scikit-learn (``pip install "plugtorch[demo]"``), so nothing is
    downloaded. The split is fixed: a permutation drawn once from seed 0 puts 1,437 images
    in the training set and 360 in the test set, the same on every machine.

    Args:
        train (bool): the training set if True, else the test set.
        transform (callable, optional): applied to each image (a uint8 ``8x8`` numpy array,
            values 0..255).
        target_transform (callable, optional): applied to each target (an int).

    Attributes:
        data (Tensor): uint8 images, ``(N, 8, 8)``.
        targets (Tensor): int64 labels, ``(N,)``.

    Example:
        >>> from plugtorch.vision import datasets, transforms
        >>> ds = datasets.Digits(train=False, transform=transforms.ToTensor())
        >>> len(ds), ds[0][0].shape
        (360, plugtorch.Size([1, 8, 8]))
    """

    n_test = 360
    classes = [str(i) for i in range(10)]

    def __init__(self, train=True, transform=None, target_transform=None):
        images, labels = _load_digits()
        # RandomState's stream is frozen by numpy, so the split never changes
        order = np.random.RandomState(0).permutation(len(labels))
        keep = order[self.n_test:] if train else order[:self.n_test]
        keep = np.sort(keep)
        self.train = train
        self._images = np.ascontiguousarray(images[keep])
        self._labels = labels[keep]
        self.transform = transform
        self.target_transform = target_transform

    def __repr__(self):
        split = "Train" if self.train else "Test"
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Split: {split}")
