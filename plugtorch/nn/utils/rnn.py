"""Variable-length sequences for the recurrent layers: PackedSequence, pad_sequence,
pack_padded_sequence, pad_packed_sequence, pack_sequence, unpad_sequence, unpack_sequence.

NOTE [packed sequences]
A PackedSequence holds the steps of a batch of sequences sorted by decreasing length,
time-major: `data` is (sum of lengths, *) with first the step-0 rows of all sequences, then
the step-1 rows of those still running, and so on; `batch_sizes[t]` (an int64 CPU tensor, as
PyTorch) counts the sequences running at step t. `sorted_indices` maps sorted position to
original batch index and `unsorted_indices` is its inverse (both None when the batch was
already sorted). Lengths live on the host because PyTorch's API puts them there, so the
gather tables between padded and packed layouts are built on the host from `batch_sizes`
with numpy and uploaded once; the data itself only moves through `index_select` on its own
device, so packing, unpacking and their gradients run on every backend and no device value
is read back.
"""
from collections import namedtuple

import numpy as np

from ..._tensor import Tensor
from ... import _dtype as D
from ...ops.creation import arange, tensor
from ...ops.shape_ops import cat, stack

__all__ = ["PackedSequence", "invert_permutation", "pad_sequence", "unpad_sequence",
           "pack_padded_sequence", "pad_packed_sequence", "pack_sequence", "unpack_sequence"]


def invert_permutation(permutation):
    """The inverse of a permutation tensor (None stays None), on the permutation's device."""
    if permutation is None:
        return None
    out = permutation.new_empty(tuple(permutation.shape))
    return out.scatter_(0, permutation, arange(permutation.numel(), device=permutation.device))


class PackedSequence(namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices",
                                                    "unsorted_indices"])):
    """A batch of variable-length sequences packed for the recurrent layers (see NOTE
    [packed sequences]). Build it with pack_padded_sequence or pack_sequence, never by hand
    unless the fields already follow that layout.

    Args:
        data: (sum of lengths, *) steps, time-major, sequences sorted by decreasing length.
        batch_sizes: int64 CPU tensor, sequences running at each step.
        sorted_indices: original batch index of each sorted position, or None.
        unsorted_indices: its inverse (computed from sorted_indices when omitted).

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.utils.rnn import pack_sequence
        >>> p = pack_sequence([torch.tensor([1., 2., 3.]), torch.tensor([4.])])
        >>> p.data, p.batch_sizes
        (tensor([1., 4., 2., 3.]), tensor([2, 1, 1]))
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes is required; use pack_padded_sequence "
                            "or pack_sequence to build a PackedSequence")
        if not isinstance(batch_sizes, Tensor) or batch_sizes.dim() != 1 or \
                batch_sizes.device.type != "cpu":
            raise ValueError("PackedSequence: batch_sizes should always be a 1D CPU int64 "
                             "tensor")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    # pack_padded_sequence knows the permutation on the host; keeping that copy lets
    # pad_packed_sequence return host lengths without reading unsorted_indices back
    _host_unsorted = None

    def to(self, *args, **kwargs):
        """A PackedSequence with data moved/cast like `Tensor.to`; the indices follow data's
        device, batch_sizes stays on the CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = lambda t: None if t is None else t.to(device=data.device)   # noqa: E731
        out = type(self)(data, self.batch_sizes, move(self.sorted_indices),
                         move(self.unsorted_indices))
        out._host_unsorted = self._host_unsorted
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        return self.to("cuda" if not args else args[0])

    def double(self):
        return self.to(dtype=D.float64)

    def float(self):
        return self.to(dtype=D.float32)

    def half(self):
        return self.to(dtype=D.float16)

    @property
    def is_cuda(self):
        return self.data.device.type == "cuda"


# ----------------------------------------------------------------------------- gather tables

def _sizes(batch_sizes):
    """batch_sizes as a host int64 array (it is a CPU tensor, so nothing crosses a device)."""
    return np.asarray(batch_sizes.tolist(), dtype=np.int64)


def _index(a, device):
    return tensor(np.ascontiguousarray(a, dtype=np.int64), device=device)


def _lengths(bs):
    """Per sorted sequence, its length: how many steps have it still running."""
    return (bs[:, None] > np.arange(bs[0])[None, :]).sum(0) if len(bs) else bs


def packed_to_padded(data, bs, padding_value=0.0, total_length=None):
    """(P, *) packed rows -> (T, B, *) time-major padded, in sorted batch order."""
    n, B = len(bs), int(bs[0])
    T = max(n, total_length or 0)
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]])
    j = np.arange(B)[None, :]
    idx = np.full((T, B), data.shape[0], np.int64)        # the padding row, appended below
    idx[:n] = np.where(j < bs[:, None], offsets[:, None] + j, data.shape[0])
    pad = data.new_full((1,) + tuple(data.shape[1:]), padding_value)
    rows = cat([data, pad]).index_select(0, _index(idx.ravel(), data.device))
    return rows.reshape((T, B) + tuple(data.shape[1:]))


def padded_to_packed(padded, bs):
    """(T, B, *) time-major padded in sorted order -> (P, *) packed rows."""
    T, B = padded.shape[0], padded.shape[1]
    t, j = np.nonzero(np.arange(B)[None, :] < bs[:, None])   # row-major: time, then batch
    flat = padded.reshape((T * B,) + tuple(padded.shape[2:]))
    return flat.index_select(0, _index(t * B + j, padded.device))


# ----------------------------------------------------------------------------- padding

def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shape (L_i, *) into one padded tensor (L_max, B, *).

    Args:
        sequences: a list (or other iterable) of tensors whose trailing dims agree.
        batch_first: return (B, L_max, *) instead. Default: False.
        padding_value: value of the padded positions. Default: 0.
        padding_side: 'right' (pad after each sequence) or 'left'. Default: 'right'.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.utils.rnn import pad_sequence
        >>> pad_sequence([torch.tensor([1., 2.]), torch.tensor([3.])], batch_first=True)
        tensor([[1., 2.],
                [3., 0.]])
    """
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    seqs = list(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in seqs)
    rows = []
    for s in seqs:
        missing = longest - s.shape[0]
        if missing:
            pad = s.new_full((missing,) + tuple(s.shape[1:]), padding_value)
            s = cat([s, pad] if padding_side == "right" else [pad, s])
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into a list of tensors of the given lengths (the inverse of
    pad_sequence with right padding).

    Args:
        padded_sequences: (L_max, B, *), or (B, L_max, *) with batch_first.
        lengths: the B lengths (a list or a CPU tensor).

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.utils.rnn import unpad_sequence
        >>> [t.tolist() for t in unpad_sequence(torch.ones(3, 2), [3, 1])]
        [[1.0, 1.0, 1.0], [1.0]]
    """
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    lens = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    return [x[b, :int(n)] for b, n in enumerate(lens)]


# ----------------------------------------------------------------------------- packing

def _host_lengths(lengths):
    if isinstance(lengths, Tensor):
        if lengths.device.type != "cpu" or lengths.dim() != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                               f"{lengths.dim()}D {lengths.device} {lengths.dtype} tensor")
        return np.asarray(lengths.tolist(), dtype=np.int64)
    a = np.asarray(lengths)
    if a.ndim != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{a.ndim}D cpu tensor")
    return a.astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch of variable-length sequences (see NOTE [packed sequences]).

    Args:
        input: (T, B, *) padded sequences, or (B, T, *) with batch_first.
        lengths: the B lengths, a list or a 1D CPU tensor (they are needed on the host).
        batch_first: input is (B, T, *). Default: False.
        enforce_sorted: require lengths in decreasing order; with False the batch is sorted
            here and `unsorted_indices` restores its order later. Default: True.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.utils.rnn import pack_padded_sequence
        >>> x = torch.tensor([[1., 2., 3.], [4., 5., 0.]])
        >>> p = pack_padded_sequence(x, [3, 2], batch_first=True)
        >>> p.data, p.batch_sizes
        (tensor([1., 4., 2., 5., 3.]), tensor([2, 2, 1]))
    """
    lens = _host_lengths(lengths)
    B = input.shape[0 if batch_first else 1] if input.dim() > 1 else None
    if B is None or len(lens) != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lens)} (batch_size={B})")
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        order = np.arange(B)
    else:
        order = np.argsort(-lens, kind="stable")
    lens = lens[order]
    if B and lens[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    T = input.shape[1 if batch_first else 0]
    if B and lens[0] > T:
        raise RuntimeError(f"pack_padded_sequence: the longest length {lens[0]} exceeds the "
                           f"padded sequence length {T}")
    bs = (lens[None, :] > np.arange(lens[0] if B else 0)[:, None]).sum(1)
    # packed row (t, j) is original sequence order[j] at step t: one gather from the input
    t, j = np.nonzero(np.arange(B)[None, :] < bs[:, None])
    rows = order[j] * T + t if batch_first else t * B + order[j]
    flat = input.reshape((T * B,) + tuple(input.shape[2:]))
    data = flat.index_select(0, _index(rows, input.device))
    if enforce_sorted:
        return PackedSequence(data, tensor(bs, dtype=D.int64))
    inverse = np.argsort(order)
    out = PackedSequence(data, tensor(bs, dtype=D.int64), _index(order, input.device),
                         _index(inverse, input.device))
    out._host_unsorted = inverse
    return out


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack a PackedSequence into a padded batch; the inverse of pack_padded_sequence.

    Args:
        sequence: a PackedSequence.
        batch_first: return (B, T, *) instead of (T, B, *). Default: False.
        padding_value: value of the padded positions. Default: 0.
        total_length: pad to this many steps (at least the longest length). Default: the
            longest length.

    Returns:
        (padded, lengths): lengths is an int64 CPU tensor in the original batch order.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.utils.rnn import pack_sequence, pad_packed_sequence
        >>> p = pack_sequence([torch.tensor([1.]), torch.tensor([2., 3.])], enforce_sorted=False)
        >>> pad_packed_sequence(p, batch_first=True)
        (tensor([[1., 0.],
                [2., 3.]]), tensor([1, 2]))
    """
    bs = _sizes(sequence.batch_sizes)
    if total_length is not None and total_length < len(bs):
        raise ValueError(f"Expected total_length to be at least the length of the longest "
                         f"sequence in input, but got total_length={total_length} and max "
                         f"sequence length being {len(bs)}")
    padded = packed_to_padded(sequence.data, bs, padding_value, total_length)
    lens = _lengths(bs)
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        padded = padded.index_select(1, unsorted)
        host = sequence._host_unsorted
        if host is None:     # built by hand: read the permutation back, as PyTorch does
            host = np.asarray(unsorted.tolist(), dtype=np.int64)
        lens = lens[host]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, tensor(lens, dtype=D.int64)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *) of different lengths: pad_sequence, then
    pack_padded_sequence with their lengths.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.utils.rnn import pack_sequence
        >>> pack_sequence([torch.tensor([1.]), torch.tensor([2., 3.])],
        ...               enforce_sorted=False).batch_sizes
        tensor([2, 1])
    """
    seqs = list(sequences)
    lengths = [s.shape[0] for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of tensors a PackedSequence holds, in the original order.

    Example:
        >>> import plugtorch as torch
        >>> from plugtorch.nn.utils.rnn import pack_sequence, unpack_sequence
        >>> p = pack_sequence([torch.tensor([1.]), torch.tensor([2., 3.])], enforce_sorted=False)
        >>> unpack_sequence(p)
        [tensor([1.]), tensor([2., 3.])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
