"""The CuPy Runtime of the cuda backend (plugtorch_cuda/runtime.py) on any machine: the
arguments it hands CuPy, the launch geometry, the source and options it gives NVRTC (and
that these compile with the real NVRTC), memory and build errors, streams and devices. CuPy
is faked (tests/_fake_cupy.py): launches are recorded and execute nothing."""
import re
import struct

import numpy as np
import pytest

import plugtorch as pt
from plugtorch_kernels import check, registry
from plugtorch_kernels.args import arg_types, dims_struct, geo_struct
from plugtorch_kernels.runtime import BUILD_OPTIONS, KernelBuildError
from plugtorch_cuda.runtime import build_options, cuda_source, launch_geometry, packer

import _fake_cupy


@pytest.fixture
def fake(monkeypatch):
    fake, backend = _fake_cupy.install(monkeypatch, count=2)
    fake.backend = backend
    return fake


def _signature(key, kernel):
    return arg_types(registry.source(key))[kernel]


def _param(key, kernel, name):
    """The position of parameter `name` of `kernel` in program `key`."""
    params = re.search(rf"KERNEL\s+void\s+{kernel}\s*\(([^)]*)\)", registry.source(key))
    names = [p.split()[-1].lstrip("*") for p in params.group(1).split(",")]
    return names.index(name)


# ----------------------------------------------------------------------------- arguments

def test_arguments_are_packed_as_the_kernel_declares():
    """Each by-value argument becomes a numpy scalar of the declared C type, whose bytes are
    what CuPy hands the driver; buffers pass through; structs become void scalars."""
    types = [None, np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.uint32),
             np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int8),
             np.dtype(np.uint8), np.dtype(np.int16), np.dtype(np.float16),
             np.dtype((np.void, 72)), np.dtype((np.void, 64))]
    buf = object()
    geo, dims = geo_struct(5, [3, 1]), dims_struct([2, 3])
    got = packer(types)([buf, -7, 2 ** 40, 2 ** 32 - 1, 0.1, 0.1, -128, 255, -3, 1.5, geo,
                         dims])
    assert got[0] is buf
    assert [type(v) for v in got[1:10]] == [np.int32, np.int64, np.uint32, np.float32,
                                            np.float64, np.int8, np.uint8, np.int16,
                                            np.float16]
    raw = [v.tobytes() for v in got[1:]]
    assert raw[:9] == [struct.pack("<i", -7), struct.pack("<q", 2 ** 40),
                       struct.pack("<I", 2 ** 32 - 1), struct.pack("<f", 0.1),
                       struct.pack("<d", 0.1), struct.pack("<b", -128),
                       struct.pack("<B", 255), struct.pack("<h", -3), struct.pack("<e", 1.5)]
    assert isinstance(got[10], np.void) and raw[9] == geo and len(raw[9]) == 72
    assert raw[9] == struct.pack("<9q", 5, 3, 1, 0, 0, 0, 0, 0, 0)
    assert isinstance(got[11], np.void) and raw[10] == dims and len(raw[10]) == 64
    # what the fake CuPy reports it would pass: the declared type, byte for byte
    assert [_fake_cupy.cupy_param(v)[1] for v in got[1:]] == types[1:]


def test_kept_conversions_never_mix_values_up():
    """Integers and structs are converted once and kept; floats are not (-0.0 == 0.0)."""
    pack = packer([np.dtype(np.float32), np.dtype(np.int16), np.dtype((np.void, 64))])
    a = pack([0.0, 3, dims_struct([2])])
    b = pack([-0.0, 3, dims_struct([3])])
    assert not np.signbit(a[0]) and np.signbit(b[0])
    assert a[1] is b[1] and type(b[1]) is np.int16
    assert a[2].tobytes() == dims_struct([2]) and b[2].tobytes() == dims_struct([3])
    assert pack([1.0, -3, dims_struct([2])])[1] == -3


def test_argument_errors_are_loud():
    pack = packer([np.dtype(np.int32), np.dtype((np.void, 72))])
    with pytest.raises(OverflowError):
        pack([2 ** 31, geo_struct(0, [])])
    with pytest.raises(ValueError, match="struct argument of 72 bytes got 64 bytes"):
        pack([1, dims_struct([])])
    with pytest.raises(TypeError, match="takes 2 arguments, the launch gave 1"):
        pack([1])


def test_unpacked_python_numbers_would_pass_the_wrong_bytes():
    """Why packing is needed: CuPy passes a Python int as int64 and a float as double
    (NOTE [cuda kernel arguments]); the fake refuses them for int/float parameters."""
    key = ("fill", pt.float32)
    code = cuda_source(registry.source(key))
    buf = _fake_cupy.make(count=1).empty(4, np.float32)
    sig = _signature(key, "k_c")
    assert sig[:3] == [None, np.dtype(np.int64), np.dtype(np.float32)]   # out, offset, value
    good = [buf, np.int64(0), np.float32(1.5)] + [t.type(4) for t in sig[3:]]
    _fake_cupy.check_args(code, "k_c", good)
    with pytest.raises(TypeError, match="argument 2: float32, CuPy would pass float64"):
        _fake_cupy.check_args(code, "k_c", good[:2] + [1.5] + good[3:])
    with pytest.raises(TypeError, match="argument 1: int64, CuPy would pass int32"):
        _fake_cupy.check_args(code, "k_c", good[:1] + [np.int32(0)] + good[2:])
    with pytest.raises(TypeError, match="argument 0: a pointer"):
        _fake_cupy.check_args(code, "k_c", [np.float32(0)] + good[1:])
    _fake_cupy.check_args(code, "k_c", [buf, 0] + good[2:])     # a Python int is an int64


def test_launch_passes_declared_types_to_cupy(fake):
    """A fill over a transposed view: the strided kernel gets the buffer, the output's
    geo_t (offset and strides), the value as the C type, dims_t, nd and n."""
    t = pt.zeros(4, 3, dtype=pt.int16, device="cuda")
    fake.launches.clear()
    t.t()[1:].fill_(-5)
    (launch,) = fake.launches
    sig = _signature(("fill", pt.int16), launch.name)
    assert launch.name == "k_s" and len(launch.args) == len(sig)
    assert launch.args[0] is t._storage.data
    assert launch.args[1].tobytes() == geo_struct(1, [1, 3])
    assert type(launch.args[2]) is np.int16 and launch.args[2] == -5
    assert [type(a) for a in launch.args[3:]] == [np.void] + [d.type for d in sig[4:]]
    assert launch.args[3].tobytes() == dims_struct([2, 4])
    assert launch.device == 0 and launch.stream is fake.cuda.Stream.null


# ----------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("global_size, local_size, grid, block", [
    ((64,), (64,), (1,), (64,)), ((128,), (64,), (2,), (64,)), ((130,), (64,), (3,), (64,)),
    ((256, 6), (64, 2), (4, 3), (64, 2)), ((8, 4, 2), (2, 2, 2), (4, 2, 1), (2, 2, 2)),
    ((100,), None, (2,), (64,))])
def test_ndrange_maps_to_grid_and_block(global_size, local_size, grid, block):
    assert launch_geometry(global_size, local_size) == (grid, block)


def test_bad_ndrange_is_refused():
    with pytest.raises(ValueError, match="same 1 to 3 dimensions"):
        launch_geometry((64, 64), (64,))


def test_launchers_cover_every_element(fake):
    t = pt.empty(1000, device="cuda")
    fake.launches.clear()
    t.fill_(1.0)
    (launch,) = fake.launches
    key = ("fill", pt.float32)
    assert launch.name == "k_c" and launch.block == (64,)
    n = launch.args[_param(key, "k_c", "n")]
    chunk = launch.args[_param(key, "k_c", "chunk")]
    assert n == 1000 and chunk == 1             # a GPU takes one element per work-item
    assert launch.grid[0] * 64 >= 1000 > (launch.grid[0] - 1) * 64


# ----------------------------------------------------------------------------- programs

def test_nvrtc_gets_the_translation_header_and_the_library_source(fake):
    pt.zeros(3, dtype=pt.int32, device="cuda").fill_(2)
    code, options = fake.builds[-1]
    with open(check.HEADER) as f:
        header = f.read()
    assert code == header + '\n#line 1 "plugtorch_kernel"\n' + registry.source(("fill", pt.int32))
    assert code == cuda_source(registry.source(("fill", pt.int32)))
    assert options == build_options(BUILD_OPTIONS)
    assert options[0] == "-std=c++17" and "-cl-mad-enable" not in options
    assert list(options[1:]) == [f"-I{d}" for d in check.nvrtc_include_dirs()]


def test_each_program_is_built_once_per_device(fake):
    a = pt.ones(5, device="cuda:0")
    b = pt.ones(5, device="cuda:1")
    n = len(fake.builds)
    a.fill_(1.0)
    a.fill_(2.0)
    assert len(fake.builds) == n           # ones() built the float32 fill already
    b.fill_(3.0)
    assert len(fake.builds) == n
    pt.zeros(2, dtype=pt.int8, device="cuda:1").fill_(1)
    assert len(fake.builds) == n + 1
    rt0, rt1 = fake.backend.runtimes[0], fake.backend.runtimes[1]
    assert ("fill", pt.float32) in rt0.programs and ("fill", pt.int8) not in rt0.programs
    assert ("fill", pt.int8) in rt1.programs


def test_build_failure_names_op_device_and_nvrtc_log(fake):
    rt = fake.backend.runtimes[0]
    src = "KERNEL void k(GLOBAL float* x) {\n#error no such op\n}"
    with pytest.raises(KernelBuildError) as info:
        rt.kernels(("broken", 1), lambda: src, "myop (float32)")
    msg = str(info.value)
    assert msg.startswith("cuda: building the kernel for myop (float32) failed on cuda:0 "
                          "(Fake GPU 0):")
    assert "plugtorch_kernel(2): error: #error directive: no such op" in msg


def test_missing_kernel_in_a_built_program_is_a_build_error(fake):
    rt = fake.backend.runtimes[0]
    prg = rt.build("KERNEL void k(GLOBAL float* x) { x[0] = 1; }", ())
    with pytest.raises(ValueError, match="has no kernel h: CUDA_ERROR_NOT_FOUND"):
        rt.kernel(prg, "h", [None])


def test_tuning_results_are_kept_per_device_and_driver(fake):
    assert fake.backend.runtimes[1].tuning_key() == {
        "name": "Fake GPU 1", "compute_capability": "8.1", "multiprocessors": "11",
        "driver": "12040", "nvrtc": "12.4"}


# ----------------------------------------------------------------------------- memory

def test_out_of_memory_names_the_size_device_and_cupys_reason(monkeypatch):
    fake, backend = _fake_cupy.install(monkeypatch, count=1, capacity=1 << 20)
    keep = pt.empty(1 << 17, device="cuda")           # 512 KiB of the 1 MiB
    with pytest.raises(pt.cuda.OutOfMemoryError) as info:
        pt.empty(1 << 18, device="cuda")
    msg = str(info.value)
    assert "1.00 MiB (262144 elements of float32) on device cuda:0" in msg
    cause = str(info.value.__cause__)
    assert cause.startswith("cuda:0 (Fake GPU 0): Out of memory allocating 1,048,576 bytes")
    # CuPy's own cached blocks were given back before giving up
    assert ("default_pool.free_all_blocks", 0) in fake.calls
    assert keep.shape == (1 << 17,)
    with pytest.raises(MemoryError, match="cuda:0 .*Out of memory"):
        backend.runtimes[0].allocate(1 << 20)         # scratch memory too (the protocol's error)


def test_scratch_and_storage_come_from_the_backends_pool(fake):
    rt = fake.backend.runtimes[1]
    before = fake.backend.pool.used[1] if 1 in fake.backend.pool.used else 0
    buf = rt.allocate(100)
    assert buf.dtype == np.uint8 and buf.shape == (100,) and buf.device.id == 1
    assert fake.backend.pool.used[1] == before + 100
    assert rt.allocate(0).nbytes == 1                 # at least one byte
    s = fake.backend.empty(6, pt.float16, 1)
    assert s.dtype == np.float16 and s.shape == (6,)
    assert pt.cuda.max_memory_allocated(1) >= before + 113


# ----------------------------------------------------------------------------- transfers

def test_transfers_use_the_current_stream_and_downloads_wait(fake):
    s = pt.cuda.Stream(device=0)
    with pt.cuda.stream(s):
        fake.calls.clear()
        t = pt.tensor([1.0, 2.0], device="cuda")
        assert ("set", s._handle.stream) in fake.calls
        assert t.cpu().tolist() == [1.0, 2.0]
        assert ("get", s._handle.stream, True) in fake.calls


def test_kernels_queue_on_the_current_stream_of_their_device(fake):
    s = pt.cuda.Stream(device=1)
    x = pt.zeros(3, device="cuda:1")
    fake.launches.clear()
    with pt.cuda.stream(s):
        x.fill_(1.0)
    x.fill_(2.0)
    assert [(l.device, l.stream) for l in fake.launches] == [
        (1, s._handle.stream), (1, fake.cuda.Stream.null)]


def test_launches_on_another_device_make_it_current(fake):
    """A tensor on cuda:1 while cuda:0 is current: the fake refuses a launch on the wrong
    device, as CUDA refuses a kernel of another context."""
    x = pt.zeros(3, device="cuda:1")
    assert pt.cuda.current_device() == 0
    fake.launches.clear()
    x.fill_(4.0)
    assert fake.launches[-1].device == 1 and fake.current[0] == 0


def test_synchronize_waits_for_the_device(fake):
    pt.zeros(1, device="cuda:1")
    fake.calls.clear()
    pt.cuda.synchronize(1)
    assert fake.calls == [("deviceSynchronize", 1)]


# ----------------------------------------------------------------------------- real NVRTC

NVRTC = check.nvrtc()


def _one_program_per_family():
    """A registered key of every program family, a float16 one where there is one (the
    dtype cuda_compat.h does the most for)."""
    keys = {}
    for key in registry.keys():
        if key[0] not in keys or (pt.float16 in key and pt.float16 not in keys[key[0]]):
            keys[key[0]] = key
    return list(keys.values())


@pytest.mark.skipif(NVRTC is None or not check.nvrtc_include_dirs(),
                    reason="CuPy's NVRTC binding or cuda_fp16.h is missing")
def test_prepared_sources_compile_with_nvrtc_as_cupy_calls_it():
    """The exact text and options the runtime gives CuPy, plus the options CuPy adds
    (architecture, default execution space, flush-to-zero), compile with the real NVRTC
    and define every kernel unmangled, so `get_function(name)` finds it."""
    archs = check.nvrtc_archs(NVRTC)
    arch = "sm_" + ("80" if "compute_80" in archs else archs[-1].split("_")[1])
    extra = ["-ftz=true", f"-arch={arch}", "--device-as-default-execution-space"]
    for key in _one_program_per_family():
        prog = NVRTC.createProgram(cuda_source(registry.source(key)), "kern.cu", [], [])
        try:
            try:
                NVRTC.compileProgram(prog, list(build_options(BUILD_OPTIONS)) + extra)
            except Exception as e:
                pytest.fail(f"{registry.name(key)}: {e}\n{NVRTC.getProgramLog(prog)}")
            ptx = NVRTC.getPTX(prog)
        finally:
            NVRTC.destroyProgram(prog)
        text = ptx.decode() if isinstance(ptx, bytes) else ptx
        for name in registry.lookup(key).kernels:
            assert f".entry {name}(" in text, (registry.name(key), name)
