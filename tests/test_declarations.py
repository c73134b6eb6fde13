"""Every public op is declared once (plugtorch.ops.OPS) with the callable users call, so the
conformance suite tests what users call; the other public names are aliases of declared ops
or are listed in NOT_OPS."""
import numpy as np
import pytest

import plugtorch
import plugtorch.nn.functional as F
from plugtorch import ops
from plugtorch.ops import ALIASES, NOT_OPS, OPS

PUBLIC = sorted(set().union(*(m.__all__ for m in ops.MODULES)))


def _public(path):
    """The object at `path` below plugtorch, e.g. "nn.functional.relu_"."""
    obj = plugtorch
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _covered(path, fn):
    name = path.rsplit(".", 1)[-1]
    return ((name in OPS and OPS[name].fn is fn) or (path in OPS and OPS[path].fn is fn) or
            (path in ALIASES and ALIASES[path].fn is fn))


def test_every_public_name_of_the_ops_modules_is_declared_an_alias_or_not_an_op():
    missing = [n for n in PUBLIC if n not in NOT_OPS and not _covered(n, getattr(plugtorch, n))]
    assert not missing, f"neither declared, an alias, nor in NOT_OPS: {missing}"


def test_every_functional_is_declared_or_an_alias():
    missing = [n for n in F.__all__ if not _covered("nn.functional." + n, getattr(F, n))]
    assert not missing, f"nn.functional functions neither declared nor aliases: {missing}"


@pytest.mark.parametrize("namespace", [plugtorch.special, plugtorch.linalg],
                         ids=lambda m: m.__name__)
def test_every_namespace_function_is_declared_or_an_alias(namespace):
    prefix = namespace.__name__.removeprefix("plugtorch.") + "."
    missing = [n for n in namespace.__all__
               if not _covered(prefix + n, getattr(namespace, n))]
    assert not missing, f"{namespace.__name__} functions neither declared nor aliases: {missing}"


def test_each_declared_fn_is_the_public_callable():
    wrong = [name for name, op in OPS.items()
             if not (op.fn is _public(name) if "." in name else
                     any(op.fn is getattr(ns, name, None)
                         for ns in (plugtorch, F, plugtorch.Tensor)))]
    assert not wrong, f"declared fn is not plugtorch.X, nn.functional.X, Tensor.X or the " \
        f"dotted path (linalg.X, special.X): {wrong}"


def test_aliases_are_public_callables_of_declared_ops():
    for path, alias in ALIASES.items():
        assert _public(path) is alias.fn, path
        assert alias.target in OPS and path in OPS[alias.target].aliases, path
        name = path.rsplit(".", 1)[-1]
        assert name not in OPS or OPS[name].fn is not alias.fn, f"{path} is declared twice"


def test_not_ops_are_public_and_neither_declared_nor_aliases():
    assert NOT_OPS <= set(PUBLIC)
    assert not NOT_OPS & (set(OPS) | set(ALIASES))


def test_every_declared_op_can_be_run_by_the_suite():
    rng = np.random.default_rng(0)
    for name, op in OPS.items():
        assert op.dtypes and op.ref is not None and op.samples is not None, name
        assert op.samples(op.dtypes[0], rng), f"{name} has no samples"


def test_declaring_twice_is_an_error():
    with pytest.raises(ValueError, match="declared twice"):
        ops.declare("add", plugtorch.add)
    with pytest.raises(ValueError, match="declared twice"):
        ops.declare_alias("clip", "clamp", plugtorch.clip)
    with pytest.raises(ValueError, match="no declared op"):
        ops.declare_alias("not_an_alias", "not_an_op", abs)
