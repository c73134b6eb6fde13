"""MultiheadAttention, TransformerEncoderLayer and TransformerEncoder on the backend under
test.

References: a numpy float64 attention written from the definition and, where installed,
PyTorch with the same weights (its state_dict loaded into ours), in eval mode so dropout is
off.
"""
import numpy as np
import pytest

import plugtorch
import plugtorch.nn as nn
from plugtorch.testing import assert_values, to_host
from plugtorch.testing.suite._common import widest_float


def _tol(device):
    return {"atol": 1e-9, "rtol": 1e-7} if widest_float(device) is plugtorch.float64 else \
        {"atol": 2e-5, "rtol": 1e-4}


def _t(a, device, grad=False):
    a = np.asarray(a)
    if a.dtype == bool:
        return plugtorch.tensor(a, device=device)
    return plugtorch.tensor(a, dtype=widest_float(device), device=device, requires_grad=grad)


def _make(cls, device, *args, **kw):
    return cls(*args, **kw).to(device=device, dtype=widest_float(device)).eval()


# ----------------------------------------------------------------------------- numpy reference

def _np_mha(m, q, k, v, attn_mask=None, kpm=None):
    """(L, N, E) inputs; returns (output (L, N, E), weights (N, H, L, S))."""
    p = {n: to_host(t).astype(np.float64) for n, t in m.state_dict().items()}
    E, H = m.embed_dim, m.num_heads
    w, b = p["in_proj_weight"], p["in_proj_bias"]
    Q, K, V = (x @ w[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E] for i, x in
               enumerate((q, k, v)))
    L, N, hd = q.shape[0], q.shape[1], E // H
    Q, K, V = (x.reshape(x.shape[0], N, H, hd).transpose(1, 2, 0, 3) for x in (Q, K, V))
    scores = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(hd)
    if attn_mask is not None:
        scores = scores + (np.where(attn_mask, -np.inf, 0) if attn_mask.dtype == bool
                           else attn_mask)
    if kpm is not None:
        scores = np.where(kpm[:, None, None, :], -np.inf, scores)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    a = e / e.sum(-1, keepdims=True)
    out = (a @ V).transpose(2, 0, 1, 3).reshape(L, N, E)
    return out @ p["out_proj.weight"].T + p["out_proj.bias"], a


def _inputs(rng, L=4, S=5, N=2, E=6):
    return (rng.standard_normal((L, N, E)), rng.standard_normal((S, N, E)),
            rng.standard_normal((S, N, E)))


@pytest.mark.parametrize("masks", ["none", "bool", "float", "padding", "both"])
def test_multihead_attention_matches_numpy(device, masks):
    rng = np.random.default_rng(0)
    m = _make(nn.MultiheadAttention, device, 6, 2)
    q, k, v = _inputs(rng)
    am = kpm = None
    if masks in ("bool", "both"):
        am = rng.random((4, 5)) < 0.3
        am[:, 0] = False                         # every query keeps one key
    if masks == "float":
        am = rng.standard_normal((4, 5))
    if masks in ("padding", "both"):
        kpm = np.array([[False] * 3 + [True] * 2, [False] * 5])
    out, w = m(_t(q, device), _t(k, device), _t(v, device),
               attn_mask=None if am is None else _t(am, device),
               key_padding_mask=None if kpm is None else _t(kpm, device),
               average_attn_weights=False)
    ref_out, ref_w = _np_mha(m, q, k, v, am, kpm)
    assert_values(out, ref_out, **_tol(device))
    assert_values(w, ref_w, **_tol(device))


def test_multihead_attention_batch_first_unbatched_and_average(device):
    rng = np.random.default_rng(1)
    m = _make(nn.MultiheadAttention, device, 6, 3, batch_first=True)
    q, k, v = _inputs(rng)
    ref_out, ref_w = _np_mha(m, q, k, v)
    bf = [_t(x.transpose(1, 0, 2), device) for x in (q, k, v)]
    out, w = m(*bf)
    assert_values(out, ref_out.transpose(1, 0, 2), **_tol(device))
    assert_values(w, ref_w.mean(1), **_tol(device))
    out1, w1 = m(*(x[1] for x in bf))                     # unbatched (L, E)
    assert_values(out1, ref_out[:, 1], **_tol(device))
    assert_values(w1, ref_w[1].mean(0), **_tol(device))
    out2, none = m(*bf, need_weights=False)
    assert none is None
    assert_values(out2, ref_out.transpose(1, 0, 2), **_tol(device))


def test_multihead_attention_parameters(device):
    m = nn.MultiheadAttention(6, 2)
    assert [n for n, _ in m.named_parameters()] == ["in_proj_weight", "in_proj_bias",
                                                    "out_proj.weight", "out_proj.bias"]
    assert tuple(m.in_proj_weight.shape) == (18, 6)
    assert not to_host(m.in_proj_bias).any() and not to_host(m.out_proj.bias).any()
    bound = np.sqrt(6 / (6 + 18))                    # xavier_uniform_ on (3E, E)
    w = to_host(m.in_proj_weight)
    assert np.abs(w).max() <= bound and w.std() > bound / 3
    kv = nn.MultiheadAttention(6, 2, kdim=3, vdim=4, bias=False)
    assert [n for n, _ in kv.named_parameters()] == ["q_proj_weight", "k_proj_weight",
                                                     "v_proj_weight", "out_proj.weight"]
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)


def test_attention_dropout_only_in_training(device):
    rng = np.random.default_rng(2)
    m = _make(nn.MultiheadAttention, device, 6, 2, dropout=0.5)
    q, k, v = (_t(x, device) for x in _inputs(rng))
    _, w = m(q, k, v, average_attn_weights=False)
    assert_values(w.sum(-1), np.ones((2, 2, 4)), **_tol(device))
    m.train()
    plugtorch.manual_seed(0)
    _, w = m(q, k, v, average_attn_weights=False)
    vals = to_host(w)
    assert (vals == 0).any() and not np.allclose(vals.sum(-1), 1)


def test_attention_mask_errors(device):
    m = _make(nn.MultiheadAttention, device, 6, 2)
    x = _t(np.zeros((4, 2, 6)), device)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is .*, but should "
                                           r"be \(4, 4\)"):
        m(x, x, x, attn_mask=_t(np.zeros((3, 4), bool), device))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)


def test_encoder_layer_gradients_flow(device):
    rng = np.random.default_rng(3)
    layer = _make(nn.TransformerEncoderLayer, device, 4, 2, dim_feedforward=8, dropout=0.0)
    x = _t(rng.standard_normal((3, 2, 4)), device, grad=True)
    (layer(x) ** 2).sum().backward()
    assert x.grad is not None and np.isfinite(to_host(x.grad)).all()
    assert all(p.grad is not None for p in layer.parameters())


# ----------------------------------------------------------------------------- PyTorch oracle

def _load_from_torch(ours, theirs, device):
    ours.load_state_dict({k: _t(v.detach().numpy(), device)
                          for k, v in theirs.state_dict().items()})


def _torch_mask(torch, a):
    return None if a is None else torch.tensor(a)


@pytest.mark.parametrize("kw, masks", [
    ({}, "both"), ({"batch_first": True}, "float3d"), ({"kdim": 3, "vdim": 5}, "padding"),
    ({"add_bias_kv": True, "add_zero_attn": True}, "both"), ({"bias": False}, "bool"),
], ids=["both", "batch_first-3d", "kdim-vdim", "bias_kv-zero_attn", "no-bias"])
def test_multihead_attention_matches_pytorch(device, kw, masks):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    E, H, L, S, N = 6, 2, 4, 5, 2
    theirs = torch.nn.MultiheadAttention(E, H, **kw).double().eval()
    ours = _make(nn.MultiheadAttention, device, E, H, **kw)
    _load_from_torch(ours, theirs, device)
    q = rng.standard_normal((L, N, E))
    k = rng.standard_normal((S, N, kw.get("kdim", E)))
    v = rng.standard_normal((S, N, kw.get("vdim", E)))
    if kw.get("batch_first"):
        q, k, v = (x.transpose(1, 0, 2) for x in (q, k, v))
    am = kpm = None
    if masks in ("bool", "both"):
        am = rng.random((L, S)) < 0.3
        am[:, 0] = False
    if masks == "float3d":
        am = rng.standard_normal((N * H, L, S))
    if masks in ("padding", "both"):
        kpm = np.array([[False] * 3 + [True] * 2, [False] * S])
    ins_a = [_t(x, device, grad=True) for x in (q, k, v)]
    ins_b = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    oa, wa = ours(*ins_a, attn_mask=None if am is None else _t(am, device),
                  key_padding_mask=None if kpm is None else _t(kpm, device),
                  average_attn_weights=False)
    ob, wb = theirs(*ins_b, attn_mask=_torch_mask(torch, am),
                    key_padding_mask=_torch_mask(torch, kpm), average_attn_weights=False)
    assert_values(oa, ob.detach().numpy(), **_tol(device))
    assert_values(wa, wb.detach().numpy(), **_tol(device))
    (oa * oa).sum().backward()
    (ob * ob).sum().backward()
    for a, b in zip(ins_a, ins_b):
        assert_values(a.grad, b.grad.numpy(), **_tol(device))
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_values(p.grad, grads[name].grad.numpy(), msg=name, **_tol(device))


@pytest.mark.parametrize("kw", [
    {}, {"activation": "gelu", "norm_first": True}, {"batch_first": True},
    {"batch_first": True, "norm_first": True, "layer_norm_eps": 1e-3},
], ids=["post-relu", "pre-gelu", "batch_first", "batch_first-pre-eps"])
def test_transformer_encoder_layer_matches_pytorch(device, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, **kw).double().eval()
    ours = _make(nn.TransformerEncoderLayer, device, 8, 2, dim_feedforward=12, **kw)
    _load_from_torch(ours, theirs, device)
    x = rng.standard_normal((2, 5, 8) if kw.get("batch_first") else (5, 2, 8))
    mask = np.triu(np.ones((5, 5), bool), 1)               # causal
    kpm = np.array([[False] * 4 + [True], [False] * 5])
    xa, xb = _t(x, device, grad=True), torch.tensor(x, requires_grad=True)
    a = ours(xa, src_mask=_t(mask, device), src_key_padding_mask=_t(kpm, device))
    b = theirs(xb, src_mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(kpm))
    assert_values(a, b.detach().numpy(), **_tol(device))
    (a * a).sum().backward()
    (b * b).sum().backward()
    assert_values(xa.grad, xb.grad.numpy(), **_tol(device))


def test_transformer_encoder_matches_pytorch(device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, batch_first=True)
    theirs = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(8),
                                         enable_nested_tensor=False).double().eval()
    ours = _make(nn.TransformerEncoder, device,
                 nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, batch_first=True), 2,
                 norm=nn.LayerNorm(8))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load_from_torch(ours, theirs, device)
    x = rng.standard_normal((2, 4, 8))
    xa, xb = _t(x, device, grad=True), torch.tensor(x, requires_grad=True)
    kpm = np.array([[False] * 3 + [True], [False] * 4])
    a = ours(xa, src_key_padding_mask=_t(kpm, device))
    b = theirs(xb, src_key_padding_mask=torch.tensor(kpm))
    assert_values(a, b.detach().numpy(), **_tol(device))
    a.sum().backward()
    b.sum().backward()
    assert_values(xa.grad, xb.grad.numpy(), **_tol(device))


def test_training_step_reads_nothing_back(device):
    layer = _make(nn.TransformerEncoderLayer, device, 4, 2, dim_feedforward=8).train()
    x = _t(np.random.default_rng(7).standard_normal((3, 2, 4)), device, grad=True)
    mask = _t(np.triu(np.ones((3, 3), bool), 1), device)
    kpm = _t(np.array([[False, False, True], [False] * 3]), device)
    plugtorch.debug.reset_counters()
    layer(x, src_mask=mask, src_key_padding_mask=kpm).sum().backward()
    name = x._storage.backend.name
    if not plugtorch.debug.fallbacks(name):   # fallbacks copy through the host by design
        assert plugtorch.debug.transfers(name) == 0, plugtorch.debug.counters()


# ----------------------------------------------------------------------------- functional sdpa

def _np_sdpa(q, k, v, mask=None, causal=False, scale=None):
    s = q @ k.swapaxes(-1, -2) * (1 / np.sqrt(q.shape[-1]) if scale is None else scale)
    if causal:
        mask = np.tril(np.ones((q.shape[-2], k.shape[-2]), bool))
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    e = np.exp(s - s.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("kind", ["none", "causal", "bool", "float", "scale"])
def test_scaled_dot_product_attention_matches_numpy(device, kind):
    F = nn.functional
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5)))
    mask = None
    if kind == "bool":
        mask = rng.random((4, 6)) < 0.7
        mask[:, 0] = True                          # True = attend; every query keeps one key
    elif kind == "float":
        mask = rng.standard_normal((2, 1, 4, 6))
    kw = {"is_causal": kind == "causal", "scale": 0.3 if kind == "scale" else None}
    out = F.scaled_dot_product_attention(_t(q, device), _t(k, device), _t(v, device),
                                         attn_mask=None if mask is None else _t(mask, device),
                                         **kw)
    assert tuple(out.shape) == (2, 3, 4, 5)
    assert_values(out, _np_sdpa(q, k, v, mask, kw["is_causal"], kw["scale"]), **_tol(device))
    if kind == "causal":
        with pytest.raises(RuntimeError, match="attn_mask"):
            F.scaled_dot_product_attention(_t(q, device), _t(k, device), _t(v, device),
                                           attn_mask=_t(np.ones((4, 6), bool), device),
                                           is_causal=True)


# ----------------------------------------------------------------------------- decoder

def test_generate_square_subsequent_mask(device):
    m = nn.Transformer.generate_square_subsequent_mask(4, device=device,
                                                       dtype=widest_float(device))
    ref = np.where(np.triu(np.ones((4, 4), bool), 1), -np.inf, 0.0)
    assert m.dtype is widest_float(device) and m.device.type == plugtorch.device(device).type
    assert np.array_equal(to_host(m), ref)
    assert nn.Transformer.generate_square_subsequent_mask(2).dtype is plugtorch.float32


def test_decoder_is_causal_under_the_mask(device):
    """With the causal mask, output t depends only on targets 0..t: changing the last
    target position leaves every earlier output unchanged (and changes the last)."""
    rng = np.random.default_rng(8)
    dec = _make(nn.TransformerDecoder, device,
                nn.TransformerDecoderLayer(8, 2, dim_feedforward=12), 2, norm=nn.LayerNorm(8))
    tgt, mem = rng.standard_normal((4, 2, 8)), rng.standard_normal((3, 2, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(4, device=device,
                                                          dtype=widest_float(device))
    a = to_host(dec(_t(tgt, device), _t(mem, device), tgt_mask=mask, tgt_is_causal=True))
    tgt[-1] += 1.0
    b = to_host(dec(_t(tgt, device), _t(mem, device), tgt_mask=mask))
    assert_values(a[:-1], b[:-1], **_tol(device))
    assert not np.allclose(a[-1], b[-1])
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        dec(_t(tgt, device), _t(mem, device), tgt_is_causal=True)


@pytest.mark.parametrize("kw", [
    {}, {"activation": "gelu", "norm_first": True}, {"batch_first": True},
    {"batch_first": True, "norm_first": True, "bias": False},
], ids=["post-relu", "pre-gelu", "batch_first", "batch_first-pre-nobias"])
@pytest.mark.filterwarnings("ignore::UserWarning")     # PyTorch's notes on mixed mask types
def test_transformer_decoder_layer_matches_pytorch(device, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    theirs = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=12, **kw).double().eval()
    ours = _make(nn.TransformerDecoderLayer, device, 8, 2, dim_feedforward=12, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load_from_torch(ours, theirs, device)
    bf = kw.get("batch_first")
    tgt = rng.standard_normal((2, 4, 8) if bf else (4, 2, 8))
    mem = rng.standard_normal((2, 5, 8) if bf else (5, 2, 8))
    causal = np.where(np.triu(np.ones((4, 4), bool), 1), -np.inf, 0.0)
    mem_mask = rng.random((4, 5)) < 0.3
    mem_mask[:, 0] = False
    tkpm = np.array([[False] * 3 + [True], [False] * 4])
    mkpm = np.array([[False] * 4 + [True], [False] * 5])
    ins_a = [_t(v, device, grad=True) for v in (tgt, mem)]
    ins_b = [torch.tensor(v, requires_grad=True) for v in (tgt, mem)]
    a = ours(*ins_a, tgt_mask=_t(causal, device), memory_mask=_t(mem_mask, device),
             tgt_key_padding_mask=_t(tkpm, device), memory_key_padding_mask=_t(mkpm, device),
             tgt_is_causal=True)
    b = theirs(*ins_b, tgt_mask=torch.tensor(causal), memory_mask=torch.tensor(mem_mask),
               tgt_key_padding_mask=torch.tensor(tkpm),
               memory_key_padding_mask=torch.tensor(mkpm), tgt_is_causal=True)
    assert_values(a, b.detach().numpy(), **_tol(device))
    (a * a).sum().backward()
    (b * b).sum().backward()
    for x, y in zip(ins_a, ins_b):
        assert_values(x.grad, y.grad.numpy(), **_tol(device))
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_values(p.grad, grads[name].grad.numpy(), msg=name, **_tol(device))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_transformer_matches_pytorch(device, batch_first):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    kw = {"dim_feedforward": 12, "batch_first": batch_first}
    theirs = torch.nn.Transformer(8, 2, 2, 1, **kw).double().eval()
    ours = _make(nn.Transformer, device, 8, 2, 2, 1, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load_from_torch(ours, theirs, device)
    src = rng.standard_normal((2, 5, 8) if batch_first else (5, 2, 8))
    tgt = rng.standard_normal((2, 4, 8) if batch_first else (4, 2, 8))
    skpm = np.array([[False] * 4 + [True], [False] * 5])
    ins_a = [_t(v, device, grad=True) for v in (src, tgt)]
    ins_b = [torch.tensor(v, requires_grad=True) for v in (src, tgt)]
    a = ours(*ins_a, tgt_mask=ours.generate_square_subsequent_mask(
        4, device=device, dtype=widest_float(device)), src_key_padding_mask=_t(skpm, device),
        memory_key_padding_mask=_t(skpm, device))
    b = theirs(*ins_b, tgt_mask=theirs.generate_square_subsequent_mask(4, dtype=torch.float64),
               src_key_padding_mask=torch.tensor(skpm),
               memory_key_padding_mask=torch.tensor(skpm))
    assert_values(a, b.detach().numpy(), **_tol(device))
    a.pow(2).sum().backward()
    b.pow(2).sum().backward()
    for x, y in zip(ins_a, ins_b):
        assert_values(x.grad, y.grad.numpy(), **_tol(device))
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_values(p.grad, grads[name].grad.numpy(), msg=name, **_tol(device))


def test_transformer_init_custom_parts_and_errors(device):
    model = nn.Transformer(8, 2, 1, 1, dim_feedforward=16)
    w = to_host(model.decoder.layers[0].linear1.weight)
    bound = np.sqrt(6 / (8 + 16))                  # xavier_uniform_ on every matrix
    assert np.abs(w).max() <= bound and w.std() > bound / 3
    assert to_host(model.decoder.norm.weight).tolist() == [1.0] * 8
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1)
    custom = nn.Transformer(8, 2, custom_encoder=enc, num_decoder_layers=1,
                            dim_feedforward=16)
    assert custom.encoder is enc and len(custom.decoder.layers) == 1
    model = _make(nn.Transformer, device, 8, 2, 1, 1, dim_feedforward=16)
    x = _t(np.zeros((3, 2, 8)), device)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(x, _t(np.zeros((3, 1, 8)), device))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to "
                                           "d_model"):
        model(x, _t(np.zeros((3, 2, 6)), device))
