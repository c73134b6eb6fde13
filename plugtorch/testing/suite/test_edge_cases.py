"""Edge cases of indexing, in-place writes, integer arithmetic and autograd, each with its
expected value written out (closed forms, or numpy), the same on every backend."""
import numpy as np
import pytest

import plugtorch
from plugtorch.testing import assert_close, to_host


# ----------------------------------------------------------------------------- indexing

@pytest.mark.parametrize("key", [
    lambda i: (slice(None), i, slice(None, None, 2)),
    lambda i: (0, i),
    lambda i: (Ellipsis, i, slice(1, 2)),
    lambda i: (None, slice(None), i),
], ids=["slice-index-step", "int-index", "ellipsis", "newaxis"])
def test_indexing_an_expanded_input_gives_each_element_one_gradient(device, key):
    """Basic + advanced indexing of an expanded tensor: the gradient of the expanded tensor is
    one per selected element, then summed over the expanded dim by expand's backward."""
    base_np = np.array([[[1.0, 2.0]]], np.float32)
    base = plugtorch.tensor(base_np, device=device, requires_grad=True)
    idx = plugtorch.tensor([0, 2, 2], device=device)
    a = base.expand(1, 4, 2)
    a[key(idx)].sum().backward()
    # the same key on a fresh (non-overlapping) copy: ones where selected, counted
    ones = np.zeros((1, 4, 2), np.float32)
    np.add.at(ones, key(np.array([0, 2, 2])), 1.0)
    assert_close(base.grad, ones.sum(axis=1, keepdims=True))
