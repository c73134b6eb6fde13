from plugtorch.testing.suite.test_torch_oracle import *  # noqa
