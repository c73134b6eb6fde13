from plugtorch.testing.suite.test_optim import *  # noqa
