"""plugtorch's kernel library, shared by the device backends; not a backend itself.

It holds what does not depend on a device API, and imports neither pyopencl nor CuPy:

- the kernel sources and their generators, written in OpenCL C 1.2 against a macro layer
  (cl_source.py, NOTE [portable kernel sources]) that cuda_compat.h maps to CUDA:
  elementwise.py with ops_table.py, reductions.py, softmax.py, matmul.py, indexing.py,
  sorting.py;
- launch plans: geometry.py (merged dims, global sizes, per-shape plans) and args.py
  (argument types read from kernel signatures, struct and scalar packing);
- per-device tuning data (tuning.py), and the measured choice of matmul kernel per device
  (autotune.py, kept on disk);
- registry.py, the one list of every program, which the launchers build from and the
  compile checks (check.py) compile;
- runtime.py, the Runtime protocol a backend implements for its device API;
- launch/, the launchers: kernel-table entries that plan and queue the programs through
  that protocol.

A device backend is then its Backend class and a Runtime (plugtorch_opencl, plugtorch_cuda).
"""
