from plugtorch.testing.suite.test_nn_spatial import *  # noqa
