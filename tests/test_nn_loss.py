from plugtorch.testing.suite.test_nn_loss import *  # noqa
