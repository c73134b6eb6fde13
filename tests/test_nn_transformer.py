from plugtorch.testing.suite.test_nn_transformer import *  # noqa
