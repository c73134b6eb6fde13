from plugtorch.testing.suite.test_nn_rnn import *  # noqa
