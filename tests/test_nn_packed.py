from plugtorch.testing.suite.test_nn_packed import *  # noqa
