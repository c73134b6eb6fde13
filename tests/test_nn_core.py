from plugtorch.testing.suite.test_nn_core import *  # noqa
