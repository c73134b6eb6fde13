"""Register the example third-party backend (examples/minimal_backend) at run time, the way
an outside package would, so every device test also runs on `minimal`."""
import os
import sys

import plugtorch

_EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "minimal_backend")
sys.path.insert(0, os.path.abspath(_EXAMPLE))

import plugtorch_minimal  # noqa: E402

plugtorch.backends.register(plugtorch_minimal)   # a no-op if already registered
