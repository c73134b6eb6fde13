"""Variable-length sequences on the backend under test: pad_sequence, pack_padded_sequence,
pad_packed_sequence, pack_sequence, and RNN / LSTM / GRU on a PackedSequence.

References: closed-form numpy packing, each sequence run alone through the numpy float64
recurrence of test_nn_rnn.py, and, where installed, PyTorch with the same weights.
"""
import numpy as np
import pytest

import plugtorch
import plugtorch.nn as nn
from plugtorch.testing import assert_values, to_host
from plugtorch.testing.suite.test_nn_rnn import _load_from_torch, _make, _np_rnn, _t, _tol

R = nn.utils.rnn


def _np_pack(x, lengths):
    """Closed-form packing of time-major (T, B, *) x: sort by decreasing length (stable),
    then for every step the rows of the sequences still running."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    rows = [x[t, b] for t in range(max(lengths)) for b in order if lengths[b] > t]
    sizes = [sum(n > t for n in lengths) for t in range(max(lengths))]
    return np.stack(rows), sizes, order


def test_pad_sequence_matches_numpy(device):
    rng = np.random.default_rng(10)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    for side in ("right", "left"):
        ref = np.full((3, 5, 2), -1.0)
        for b, s in enumerate(seqs):
            ref[b, :len(s)] = s if side == "right" else ref[b, :len(s)]
            if side == "left":
                ref[b, 5 - len(s):] = s
        out = R.pad_sequence([_t(s, device) for s in seqs], batch_first=True,
                             padding_value=-1.0, padding_side=side)
        assert_values(out, ref, **_tol(device))
        out = R.pad_sequence([_t(s, device) for s in seqs], padding_value=-1.0,
                             padding_side=side)
        assert_values(out, ref.transpose(1, 0, 2), **_tol(device))
    back = R.unpad_sequence(R.pad_sequence([_t(s, device) for s in seqs]), [3, 5, 1])
    for a, s in zip(back, seqs):
        assert_values(a, s, **_tol(device))
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right"):
        R.pad_sequence([_t(seqs[0], device)], padding_side="mid")


@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_pad_round_trip_matches_closed_form(device, batch_first):
    rng = np.random.default_rng(11)
    lengths = [2, 5, 3, 5]
    x = rng.standard_normal((5, 4, 3))
    xin = _t(x.transpose(1, 0, 2) if batch_first else x, device, grad=True)
    p = R.pack_padded_sequence(xin, plugtorch.tensor(lengths), batch_first=batch_first,
                               enforce_sorted=False)
    data, sizes, order = _np_pack(x, lengths)
    assert_values(p.data, data, **_tol(device))
    assert p.batch_sizes.tolist() == sizes and p.batch_sizes.device.type == "cpu"
    assert to_host(p.sorted_indices).tolist() == order.tolist()
    assert to_host(p.unsorted_indices).tolist() == np.argsort(order).tolist()
    padded, lens = R.pad_packed_sequence(p, batch_first=batch_first, padding_value=7.0,
                                         total_length=6)
    ref = np.full((6, 4, 3), 7.0)
    for b, n in enumerate(lengths):
        ref[:n, b] = x[:n, b]
    assert_values(padded, ref.transpose(1, 0, 2) if batch_first else ref, **_tol(device))
    assert lens.tolist() == lengths and lens.device.type == "cpu"
    # packing is a gather: each valid position gets its weight back, padding gets zero
    w = rng.standard_normal(data.shape)
    (p.data * _t(w, device)).sum().backward()
    gref = np.zeros_like(x)
    k = 0
    for t in range(5):
        for b in order:
            if lengths[b] > t:
                gref[t, b], k = w[k], k + 1
    assert_values(xin.grad, gref.transpose(1, 0, 2) if batch_first else gref, **_tol(device))


def test_pack_sequence_and_unpack(device):
    seqs = [_t(np.arange(n, dtype=float) + 10 * n, device) for n in (2, 4, 1)]
    p = R.pack_sequence(seqs, enforce_sorted=False)
    assert_values(p.data, [40., 20., 10., 41., 21., 42., 43.], **_tol(device))
    assert p.batch_sizes.tolist() == [3, 2, 1, 1]
    for a, b in zip(R.unpack_sequence(p), seqs):
        assert_values(a, to_host(b))
    sorted_p = R.pack_sequence([seqs[1], seqs[0], seqs[2]])
    assert sorted_p.sorted_indices is None and sorted_p.unsorted_indices is None
    assert_values(sorted_p.data, to_host(p.data))


@pytest.mark.parametrize("call, match", [
    (lambda d: R.pack_padded_sequence(_t(np.zeros((4, 3, 2)), d), [4, 2]),
     r"Expected `len\(lengths\)` to be equal to batch_size, but got 2 \(batch_size=3\)"),
    (lambda d: R.pack_padded_sequence(_t(np.zeros((4, 3, 2)), d), [2, 4, 1]),
     "`lengths` array must be sorted in decreasing order"),
    (lambda d: R.pack_padded_sequence(_t(np.zeros((4, 3, 2)), d), [4, 0, 1],
                                      enforce_sorted=False),
     "Length of all samples has to be greater than 0"),
    (lambda d: R.pack_padded_sequence(_t(np.zeros((4, 3, 2)), d), [5, 3, 1]),
     "exceeds the padded sequence length 4"),
    (lambda d: R.pad_packed_sequence(R.pack_sequence([_t(np.zeros(3), d)]), total_length=2),
     "Expected total_length to be at least the length of the longest sequence"),
    (lambda d: R.pad_sequence([]), "received an empty list of sequences"),
], ids=["batch", "sorted", "zero", "too-long", "total_length", "empty"])
def test_packing_errors(device, call, match):
    with pytest.raises((RuntimeError, ValueError), match=match):
        call(device)


_PACKED = [(nn.LSTM, {"num_layers": 2, "bidirectional": True}),
           (nn.GRU, {"bidirectional": True}), (nn.RNN, {"num_layers": 2})]
_PACKED_IDS = ["LSTM-2-bi", "GRU-bi", "RNN-2"]


@pytest.mark.parametrize("cls, kw", _PACKED, ids=_PACKED_IDS)
def test_packed_input_equals_each_sequence_alone(device, cls, kw):
    """Closed form: a packed batch gives, per sequence, what running that sequence alone
    (its true length, its own h_0) gives."""
    rng = np.random.default_rng(12)
    m = _make(cls, device, 3, 4, **kw)
    D = 2 if m.bidirectional else 1
    lengths = [3, 5, 2]
    x = rng.standard_normal((5, 3, 3))
    h0 = rng.standard_normal((m.num_layers * D, 3, 4))
    c0 = rng.standard_normal(h0.shape) if cls is nn.LSTM else None
    hx = _t(h0, device) if c0 is None else (_t(h0, device), _t(c0, device))
    out, state = m(R.pack_padded_sequence(_t(x, device), lengths, enforce_sorted=False), hx)
    assert isinstance(out, R.PackedSequence)
    padded, lens = R.pad_packed_sequence(out)
    assert lens.tolist() == lengths
    h = state[0] if c0 is not None else state
    for b, n in enumerate(lengths):
        ro, rh, rc = _np_rnn(m, x[:n, b:b + 1], h0[:, b:b + 1],
                             None if c0 is None else c0[:, b:b + 1])
        assert_values(padded[:n, b], ro[:, 0], **_tol(device))
        assert not to_host(padded[n:, b]).any()
        assert_values(h[:, b], rh[:, 0], **_tol(device))
        if c0 is not None:
            assert_values(state[1][:, b], rc[:, 0], **_tol(device))


@pytest.mark.parametrize("cls, kw", _PACKED + [(nn.LSTM, {"proj_size": 2,
                                                          "bidirectional": True})],
                         ids=_PACKED_IDS + ["LSTM-proj-bi"])
def test_packed_input_matches_pytorch(device, cls, kw):
    torch = pytest.importorskip("torch")
    TR = torch.nn.utils.rnn
    rng = np.random.default_rng(13)
    theirs = getattr(torch.nn, cls.__name__)(3, 4, **kw).double()
    ours = _make(cls, device, 3, 4, **kw)
    _load_from_torch(ours, theirs, device)
    D, nl = (2 if kw.get("bidirectional") else 1), kw.get("num_layers", 1)
    lengths = [2, 5, 3, 5]                        # unsorted, with a tie
    x = rng.standard_normal((4, 5, 3))            # batch first
    h0 = rng.standard_normal((nl * D, 4, kw.get("proj_size") or 4))
    c0 = rng.standard_normal((nl * D, 4, 4))
    xa, xb = _t(x, device, grad=True), torch.tensor(x, requires_grad=True)
    ha0, hb0 = _t(h0, device, grad=True), torch.tensor(h0, requires_grad=True)
    hxa, hxb = ha0, hb0
    if cls is nn.LSTM:
        hxa, hxb = (ha0, _t(c0, device)), (hb0, torch.tensor(c0))
    pa, sa = ours(R.pack_padded_sequence(xa, lengths, batch_first=True, enforce_sorted=False),
                  hxa)
    pb, sb = theirs(TR.pack_padded_sequence(xb, lengths, batch_first=True,
                                            enforce_sorted=False), hxb)
    assert pa.batch_sizes.tolist() == pb.batch_sizes.tolist()
    assert_values(pa.data, pb.data.detach().numpy(), **_tol(device))
    sa, sb = (sa if cls is nn.LSTM else (sa,)), (sb if cls is nn.LSTM else (sb,))
    for a, b in zip(sa, sb):                      # h_n (and c_n) back in the caller's order
        assert_values(a, b.detach().numpy(), **_tol(device))
    ua = R.pad_packed_sequence(pa, batch_first=True)[0]
    ub = TR.pad_packed_sequence(pb, batch_first=True)[0]
    assert_values(ua, ub.detach().numpy(), **_tol(device))
    ((ua * ua).sum() + sum((s ** 3).sum() for s in sa)).backward()
    ((ub * ub).sum() + sum((s ** 3).sum() for s in sb)).backward()
    assert_values(xa.grad, xb.grad.numpy(), **_tol(device))
    assert_values(ha0.grad, hb0.grad.numpy(), **_tol(device))
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_values(p.grad, grads[name].grad.numpy(), msg=name, **_tol(device))


def test_packed_training_step_reads_nothing_back(device):
    m = _make(nn.GRU, device, 3, 4, bidirectional=True)
    x = _t(np.random.default_rng(14).standard_normal((4, 3, 3)), device)
    plugtorch.debug.reset_counters()
    out, h = m(R.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False))
    (R.pad_packed_sequence(out)[0].sum() + h.sum()).backward()
    name = x._storage.backend.name
    # uploads of the index tables built from the host lengths happen; reads never do
    reads = sum(v for k, v in plugtorch.debug.COUNTERS.items()
                if k[0] == "to_host" and k[1] == name)
    if not plugtorch.debug.fallbacks(name):
        assert reads == 0, plugtorch.debug.counters()
