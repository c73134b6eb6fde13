"""The conformance suite on every available backend (cpu, the example `minimal` backend
registered in conftest.py, and any installed plugin)."""
from plugtorch.testing.suite.test_ops import *  # noqa: F401,F403
from plugtorch.testing.suite.test_semantics import *  # noqa: F401,F403
from plugtorch.testing.suite.test_errors import *  # noqa: F401,F403
from plugtorch.testing.suite.test_edge_cases import *  # noqa: F401,F403
from plugtorch.testing.suite.test_out import *  # noqa: F401,F403
