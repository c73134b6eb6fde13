from plugtorch.testing.suite.test_serialization import *  # noqa
