"""The package's layers import only downward at module level, and the in-tree backends use
only the public backend API (as a third-party backend must)."""
import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "plugtorch"

# lowest first: a module may import, at module level, from its own layer or a lower one
LAYERS = [
    ("base", ["plugtorch._dtype", "plugtorch._device", "plugtorch._size", "plugtorch._counters",
              "plugtorch._deferred", "plugtorch._capture"]),
    ("tensor data", ["plugtorch._tensor"]),
    ("registry and dispatch", ["plugtorch.backends", "plugtorch._dispatch", "plugtorch.debug"]),
    ("autograd", ["plugtorch.autograd"]),
    ("ops", ["plugtorch.ops", "plugtorch._generator", "plugtorch._interop",
             "plugtorch._format", "plugtorch._legacy"]),
    ("frontend", ["plugtorch"]),      # nn, optim, utils, serialization, testing, ...
]


def _layer(module):
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if module == p or module.startswith(p + "."):
                if best is None or len(p) > best[1]:
                    best = (rank, len(p))
    return best[0]


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _module_level_imports(path):
    """(line, imported module) of every import that runs when the module is imported:
    statements outside function and class bodies."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text())

    def walk(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(node, ast.Import):
                for a in node.names:
                    yield node.lineno, a.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[:len(package) - node.level + 1]
                    base = ".".join(base + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for a in node.names:
                    # `from pkg import sub` may name a submodule: resolve to the longest match
                    yield node.lineno, base + "." + a.name if a.name != "*" else base
            for field in ("body", "orelse", "finalbody", "handlers"):
                yield from walk(getattr(node, field, []) or [])

    return [(line, mod) for line, mod in walk(tree.body) if mod.startswith("plugtorch")]


def _imports():
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, mod in _module_level_imports(path):
            yield path, line, mod


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_module_level_imports_go_down(path):
    here = _module_name(path)
    bad = []
    for line, mod in _module_level_imports(path):
        if _layer(mod) > _layer(here):
            bad.append(f"{path.relative_to(ROOT)}:{line} ({LAYERS[_layer(here)][0]}) imports "
                       f"{mod} ({LAYERS[_layer(mod)][0]})")
    assert not bad, "upward imports at module level:\n" + "\n".join(bad)


_PRIVATE = re.compile(r"\bplugtorch\.(_\w+|ops)\b|\._(storage|shape|stride|offset|dtype|view)\b")


@pytest.mark.parametrize("backend", ["cpu", "opencl"])
def test_in_tree_backends_use_only_the_public_api(backend):
    bad = []
    for path in sorted((ROOT / "backends" / backend).rglob("*.py")):
        for n, text in enumerate(path.read_text().splitlines(), 1):
            if _PRIVATE.search(text.split("#")[0]):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {text.strip()}")
    assert not bad, "private plugtorch names in a backend:\n" + "\n".join(bad)


def test_backend_guide_covers_every_primitive():
    import plugtorch
    guide = (ROOT / "docs" / "writing-a-backend.md").read_text()
    missing = [n for n in plugtorch.backends.PRIMITIVES
               if not re.search(rf"(?<![\w.]){n}(?![\w.])", guide)]
    assert not missing, f"docs/writing-a-backend.md does not mention: {missing}"
    assert f"Required** ({len(plugtorch.backends.REQUIRED)})" in guide
    assert f"Optional** ({len(plugtorch.backends.OPTIONAL)})" in guide


def test_tensor_methods_are_attached_in_one_place():
    """Tensor's methods live in its class body or in plugtorch/ops/_tensor_methods.py;
    no other module adds attributes to Tensor."""
    import plugtorch
    from plugtorch.ops import _tensor_methods
    pattern = re.compile(r"setattr\(\s*Tensor\b|^\s*Tensor\.\w+\s*=", re.M)
    allowed = {PACKAGE / "_tensor.py", PACKAGE / "ops" / "_tensor_methods.py"}
    bad = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
           if p not in allowed and pattern.search(p.read_text())]
    assert not bad, f"modules that attach Tensor attributes: {bad}"
    body = {n for n, v in vars(plugtorch.Tensor).items()} - set(_tensor_methods.METHODS)
    for name, fn in _tensor_methods.METHODS.items():
        assert vars(plugtorch.Tensor)[name] is fn, name
    assert "add" in _tensor_methods.METHODS and "shape" in body


def test_only_the_dispatcher_reads_kernel_tables():
    """NOTE [dispatch]: plugtorch/_dispatch.py is the one reader of a backend's kernels."""
    pattern = re.compile(r"\.kernels\b(?!\s*=)|_plugtorch_dispatch|\b_table\[")
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "_dispatch.py":
            continue
        for n, text in enumerate(path.read_text().splitlines(), 1):
            code = text.split("#")[0]
            if pattern.search(code) and "kernels:" not in code:
                bad.append(f"{path.relative_to(ROOT)}:{n}: {text.strip()}")
    assert not bad, "kernel tables read outside plugtorch/_dispatch.py:\n" + "\n".join(bad)
