"""Random numbers: Philox known answers, the `uniform` contract on every backend, generator
state, and the distributions' statistics."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch._generator import philox4x32_10, philox_uniform_numpy

F = 0xFFFFFFFF


# ----------------------------------------------------------------------------- Philox

@pytest.mark.parametrize("ctr,key,expected", [
    # Random123's kat_vectors for philox4x32-10: counter words, key words, output words
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((F, F, F, F), (F, F), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_known_answers(ctr, key, expected):
    out = philox4x32_10(tuple(np.array([c], np.uint64) for c in ctr), key)
    assert tuple(int(x[0]) for x in out) == expected


def _scalar_uniform(counter, seed, kind):
    """One element of the `uniform` contract, straight from the definition, in Python ints."""
    ctr = tuple(np.array([w], np.uint64) for w in (counter & F, counter >> 32, 0, 0))
    x0, x1 = (int(w[0]) for w in philox4x32_10(ctr, (seed & F, seed >> 32))[:2])
    if kind == "float64":
        return ((x0 >> 5) * 2 ** 26 + (x1 >> 6)) * 2.0 ** -53
    if kind == "float16":
        return (x0 >> 21) * 2.0 ** -11
    return (x0 >> 8) * 2.0 ** -24


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_uniform_numpy_matches_definition(dtype):
    seed, offset = 0x123456789ABCDEF0, 2 ** 32 - 3       # counters cross the 32-bit boundary
    got = philox_uniform_numpy(6, seed, offset, dtype)
    assert got.dtype == np.dtype(dtype)
    assert got.tolist() == [_scalar_uniform(offset + i, seed, dtype) for i in range(6)]


def test_uniform_numpy_counter_wraps_at_2_64():
    got = philox_uniform_numpy(3, 5, 2 ** 64 - 1, np.float64)
    assert got.tolist() == [_scalar_uniform(c, 5, "float64") for c in (2 ** 64 - 1, 0, 1)]


def test_float32_and_float64_of_one_counter_agree_to_2_pow_24():
    a = philox_uniform_numpy(1000, 7, 0, np.float32).astype(np.float64)
    b = philox_uniform_numpy(1000, 7, 0, np.float64)
    assert np.all((b - a >= 0) & (b - a < 2.0 ** -24))


# ----------------------------------------------------------------------------- same numbers

@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_rand_is_the_uniform_contract_on_every_backend(device, dtype):
    if getattr(pt, dtype) not in pt.backends.get(device).dtypes:
        pytest.skip(f"{device} has no {dtype}")
    g = pt.Generator(device).manual_seed(1234)
    a = pt.rand(3, 4, generator=g, dtype=getattr(pt, dtype), device=device)
    b = pt.rand(5, generator=g, dtype=getattr(pt, dtype), device=device)
    ref = philox_uniform_numpy(17, 1234, 0, dtype)
    assert a.device.type == device and a.dtype is getattr(pt, dtype)
    np.testing.assert_array_equal(a.cpu().numpy(), ref[:12].reshape(3, 4))
    np.testing.assert_array_equal(b.cpu().numpy(), ref[12:])      # counters continue
    assert g.get_offset() == 17


def test_uniform_fills_a_strided_view_in_row_major_order(device):
    base = pt.zeros(4, 6, dtype=pt.float64, device=device)
    view = base.t()[1:5:2]                  # shape (2, 4), non-contiguous
    view.uniform_(generator=pt.Generator(device).manual_seed(9))
    ref = philox_uniform_numpy(8, 9, 0, np.float64).reshape(2, 4)
    np.testing.assert_array_equal(view.cpu().numpy(), ref)
    expected = np.zeros((4, 6))
    expected.T[1:5:2] = ref
    np.testing.assert_array_equal(base.cpu().numpy(), expected)


def test_same_seed_same_numbers_across_backends(device):
    pt.manual_seed(77)
    here = [pt.rand(5, device=device), pt.randn(6, device=device),
            pt.randint(0, 100, (7,), device=device), pt.randperm(9, device=device)]
    pt.manual_seed(77)
    cpu = [pt.rand(5), pt.randn(6), pt.randint(0, 100, (7,)), pt.randperm(9)]
    for h, c in zip(here, cpu):
        np.testing.assert_allclose(h.cpu().numpy(), c.numpy(), rtol=1e-6, atol=1e-6)


def test_randn_is_box_muller_of_two_uniform_blocks():
    z = pt.randn(2, 5, dtype=pt.float64, generator=pt.Generator().manual_seed(3))
    u = philox_uniform_numpy(20, 3, 0, np.float64)
    ref = np.sqrt(-2 * np.log(1 - u[:10])) * np.cos(2 * np.pi * u[10:])
    np.testing.assert_allclose(z.numpy().ravel(), ref, rtol=1e-12, atol=1e-14)


def test_randint_and_randperm_follow_their_decompositions():
    g = pt.Generator().manual_seed(11)
    x = pt.randint(-5, 20, (50,), generator=g)
    u = philox_uniform_numpy(50, 11, 0, np.float32).astype(np.float64)
    np.testing.assert_array_equal(x.numpy(), np.floor(u * 25).astype(np.int64) - 5)
    p = pt.randperm(30, generator=pt.Generator().manual_seed(4))
    keys = philox_uniform_numpy(30, 4, 0, np.float64)
    np.testing.assert_array_equal(p.numpy(), np.argsort(keys, kind="stable"))


# ----------------------------------------------------------------------------- generators

def test_manual_seed_reproduces_and_returns_default_generator():
    g = pt.manual_seed(5)
    assert g is pt.default_generator and pt.initial_seed() == 5
    a = pt.rand(10)
    pt.manual_seed(5)
    assert np.array_equal(pt.rand(10).numpy(), a.numpy())
    assert not np.array_equal(pt.rand(10).numpy(), a.numpy())


def test_negative_seed_wraps_like_pytorch_and_range_is_checked():
    pt.manual_seed(-1)
    assert pt.initial_seed() == 2 ** 64 - 1
    with pytest.raises(RuntimeError, match="seed must be in"):
        pt.manual_seed(2 ** 64)
    with pytest.raises(TypeError, match="int seed"):
        pt.manual_seed(1.5)


def test_rng_state_round_trip():
    pt.manual_seed(123)
    pt.rand(7)
    state = pt.get_rng_state()
    assert state.dtype is pt.uint8 and state.shape == (16,)
    a = pt.randn(4)
    pt.set_rng_state(state)
    assert np.array_equal(pt.randn(4).numpy(), a.numpy())
    with pytest.raises(RuntimeError, match="16 bytes"):
        pt.set_rng_state(pt.zeros(3))


def test_generators_are_independent_streams():
    g1, g2 = pt.Generator().manual_seed(1), pt.Generator().manual_seed(1)
    a = pt.rand(4, generator=g1)
    pt.rand(100)                                   # the default stream does not interfere
    assert np.array_equal(pt.rand(4, generator=g2).numpy(), a.numpy())
    assert g1.initial_seed() == 1 and g1.get_state().tolist() == g2.get_state().tolist()
    g3 = pt.Generator().set_state(g1.get_state())
    assert np.array_equal(pt.rand(3, generator=g3).numpy(), pt.rand(3, generator=g1).numpy())


def test_seed_draws_a_fresh_seed():
    s = pt.seed()
    assert pt.initial_seed() == s and 0 <= s < 2 ** 64
    assert pt.Generator().seed() != pt.Generator().seed()


def test_generator_device_type_must_match():
    with pytest.raises(RuntimeError, match="Expected a 'cpu' device type for generator"):
        pt.rand(2, generator=pt.Generator("minimal"))
    with pytest.raises(TypeError, match="plugtorch.Generator"):
        pt.rand(2, generator=42)


# ----------------------------------------------------------------------------- factories

def test_factory_keywords():
    x = pt.rand((2, 3), dtype=pt.float64, requires_grad=True)
    assert x.shape == (2, 3) and x.dtype is pt.float64 and x.requires_grad and x.is_leaf
    assert pt.randn(pt.Size([4])).shape == (4,)
    assert pt.rand_like(pt.zeros(2, 2, dtype=pt.float64)).dtype is pt.float64
    assert pt.randn_like(pt.zeros(3), dtype=pt.float16).dtype is pt.float16
    assert pt.randint(10, (3,)).dtype is pt.int64
    assert pt.randint(0, 10, (3,), dtype=pt.float32).dtype is pt.float32
    assert pt.randint(high=4, size=(2,)).shape == (2,)
    assert pt.randint_like(pt.zeros(2, 2), 5).dtype is pt.float32
    assert pt.randperm(4, dtype=pt.int32).dtype is pt.int32
    out = pt.empty(0)
    assert pt.rand(3, out=out) is out and out.shape == (3,)
    assert pt.rand(0, 3).shape == (0, 3) and pt.randperm(0).shape == (0,)


def test_factory_errors():
    with pytest.raises(TypeError, match="floating-point dtype"):
        pt.rand(3, dtype=pt.int64)
    with pytest.raises(RuntimeError, match="'from' to be less than 'to'"):
        pt.randint(5, 3, (2,))
    with pytest.raises(RuntimeError, match="outside the range of plugtorch.uint8"):
        pt.randint(0, 300, (2,), dtype=pt.uint8)
    with pytest.raises(RuntimeError, match="negative dimension"):
        pt.randperm(-1)
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        pt.randint(3, (2,), requires_grad=True)


# ----------------------------------------------------------------------------- statistics

N = 100_000


@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.float16])
def test_rand_statistics(dtype):
    x = pt.rand(N, dtype=dtype, generator=pt.Generator().manual_seed(2)).numpy()
    x = x.astype(np.float64)
    assert x.min() >= 0 and x.max() < 1
    assert abs(x.mean() - 0.5) < 5e-3 and abs(x.var() - 1 / 12) < 3e-3
    counts = np.histogram(x, bins=10, range=(0, 1))[0]
    chi2 = ((counts - N / 10) ** 2 / (N / 10)).sum()
    assert chi2 < 40                    # 9 degrees of freedom: p < 1e-5 at 40


def test_randn_statistics():
    z = pt.randn(N, dtype=pt.float64, generator=pt.Generator().manual_seed(8)).numpy()
    assert abs(z.mean()) < 0.02 and abs(z.var() - 1) < 0.03
    # the normal CDF at a few points (standard error ~1.6e-3)
    for q in (-1.5, -0.5, 0.0, 1.0, 2.0):
        assert abs((z < q).mean() - 0.5 * (1 + math.erf(q / math.sqrt(2)))) < 8e-3


def test_normal_with_tensor_and_float_arguments():
    g = pt.Generator().manual_seed(3)
    mean = pt.tensor([[-10.0], [0.0], [10.0]])
    std = pt.tensor([0.5, 2.0])
    x = pt.normal(mean, std, generator=g)
    assert x.shape == (3, 2) and x.dtype is pt.float32
    big = pt.normal(mean.expand(3, 20000), 2.0, generator=g).numpy()
    np.testing.assert_allclose(big.mean(1), [-10, 0, 10], atol=0.1)
    np.testing.assert_allclose(big.std(1), [2, 2, 2], rtol=0.03)
    y = pt.normal(3.0, 0.5, (N,), generator=g).numpy()
    assert abs(y.mean() - 3) < 0.01 and abs(y.std() - 0.5) < 0.01
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        pt.normal(0.0, -1.0, (2,))
    with pytest.raises(RuntimeError, match="all elements of std >= 0.0"):
        pt.normal(pt.zeros(2), pt.tensor([1.0, -1.0]))


def test_normal_gradient_is_zero_like_pytorch():
    mean = pt.zeros(3, requires_grad=True)
    std = pt.ones(3, requires_grad=True)
    y = pt.normal(mean, std)
    assert y.grad_fn is not None
    y.sum().backward()
    assert mean.grad.tolist() == [0, 0, 0] and std.grad.tolist() == [0, 0, 0]


def test_randint_range_and_coverage():
    x = pt.randint(-3, 4, (N,), generator=pt.Generator().manual_seed(6)).numpy()
    counts = np.bincount(x + 3, minlength=7)
    assert x.min() == -3 and x.max() == 3
    assert np.all(np.abs(counts / N - 1 / 7) < 0.01)
    big = pt.randint(0, 2 ** 40, (1000,)).numpy()       # float64 path
    assert big.min() >= 0 and big.max() < 2 ** 40 and big.max() > 2 ** 39
    full = pt.randint(-2 ** 63, 2 ** 63 - 1, (1000,)).numpy()     # span beyond int64
    assert full.min() < -2 ** 61 and full.max() > 2 ** 61


def test_randperm_is_a_permutation():
    for n in (1, 2, 17, 1000):
        p = pt.randperm(n).numpy()
        assert sorted(p.tolist()) == list(range(n))
    firsts = [pt.randperm(3).tolist()[0] for _ in range(600)]
    assert all(abs(firsts.count(k) - 200) < 60 for k in range(3))


def test_bernoulli():
    p = pt.tensor([0.0, 1.0, 0.25]).expand(N, 3)
    x = pt.bernoulli(p, generator=pt.Generator().manual_seed(1)).numpy()
    assert x.dtype == np.float32
    np.testing.assert_allclose(x.mean(0), [0, 1, 0.25], atol=6e-3)
    assert abs(pt.bernoulli(pt.zeros(N), p=0.7).numpy().mean() - 0.7) < 6e-3
    with pytest.raises(RuntimeError, match=r"probabilities p in \[0, 1\]"):
        pt.bernoulli(pt.tensor([1.5]))
    with pytest.raises(TypeError, match="floating-point"):
        pt.bernoulli(pt.tensor([1]))


def test_multinomial():
    w = pt.tensor([[1.0, 0.0, 3.0], [0.0, 5.0, 5.0]])
    x = pt.multinomial(w, 20000, replacement=True).numpy()
    assert x.shape == (2, 20000)
    np.testing.assert_allclose(np.bincount(x[0], minlength=3) / 20000, [0.25, 0, 0.75],
                               atol=0.015)
    np.testing.assert_allclose(np.bincount(x[1], minlength=3) / 20000, [0, 0.5, 0.5],
                               atol=0.015)
    # without replacement: distinct categories; the first draw follows the weights
    draws = pt.multinomial(pt.tensor([1.0, 2.0, 7.0, 0.0]).expand(3000, 4), 3).numpy()
    assert draws.shape == (3000, 3) and np.all(np.sort(draws, 1) == [0, 1, 2])
    np.testing.assert_allclose(np.bincount(draws[:, 0], minlength=3) / 3000, [0.1, 0.2, 0.7],
                               atol=0.03)
    with pytest.raises(RuntimeError, match="without replacement"):
        pt.multinomial(pt.tensor([1.0, 1.0]), 3)
    with pytest.raises(RuntimeError, match="not enough non-negative category"):
        pt.multinomial(pt.tensor([1.0, 0.0]), 2)
    with pytest.raises(RuntimeError, match="element < 0"):
        pt.multinomial(pt.tensor([1.0, -1.0]), 1)


# ----------------------------------------------------------------------------- in place

def test_inplace_distributions():
    g = pt.Generator().manual_seed(10)
    x = pt.empty(N, dtype=pt.float64)
    v = x._version
    assert x.uniform_(-2, 3, generator=g) is x and x._version > v
    a = x.numpy()
    assert a.min() >= -2 and a.max() < 3 and abs(a.mean() - 0.5) < 0.03
    a = x.normal_(1.0, 3.0, generator=g).numpy()
    assert abs(a.mean() - 1) < 0.05 and abs(a.std() - 3) < 0.05
    a = x.exponential_(2.0, generator=g).numpy()
    assert a.min() >= 0 and abs(a.mean() - 0.5) < 0.01
    a = x.bernoulli_(0.3, generator=g).numpy()
    assert set(np.unique(a)) <= {0.0, 1.0} and abs(a.mean() - 0.3) < 0.01
    a = x.random_(2, 5, generator=g).numpy()
    assert set(np.unique(a)) == {2.0, 3.0, 4.0}
    a = x.random_(3, generator=g).numpy()
    assert set(np.unique(a)) == {0.0, 1.0, 2.0}
    i = pt.empty(1000, dtype=pt.uint8).random_().numpy()
    assert i.max() > 200
    b = pt.empty(100, dtype=pt.bool).random_().numpy()
    assert b.any() and not b.all()


def test_inplace_on_a_view_writes_only_the_view():
    x = pt.zeros(4, 4)
    x[1].uniform_(5, 6)
    a = x.numpy()
    assert np.all((a[1] >= 5) & (a[1] < 6)) and not a[[0, 2, 3]].any()


def test_inplace_errors():
    with pytest.raises(RuntimeError, match=r"\[from, to\) range"):
        pt.empty(2).uniform_(2, 1)
    with pytest.raises(RuntimeError, match="lambda > 0.0"):
        pt.empty(2).exponential_(-1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        pt.zeros(2, requires_grad=True).uniform_()
    with pytest.raises(RuntimeError, match=r"p to be in \[0, 1\]"):
        pt.empty(2).bernoulli_(2.0)
    with pytest.raises(TypeError, match="floating-point"):
        pt.zeros(2, dtype=pt.int64).normal_()
