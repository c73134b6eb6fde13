from plugtorch.testing.suite.test_data_device import *  # noqa: F401,F403
