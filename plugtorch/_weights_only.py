"""The restricted unpickler of `load(weights_only=True)` and its allowlist.

NOTE [weights_only]
`load(weights_only=True)` (the default) unpickles with a restricted unpickler: only the globals
in `_SAFE_GLOBALS` (OrderedDict, a few builtins, dtype/device/Size and `_rebuild_tensor`), the
PyTorch names of a checkpoint (`_TORCH_GLOBALS` in serialization.py: `_rebuild_tensor_v2`,
`_rebuild_tensor_v3`, `_rebuild_parameter`, `_rebuild_from_type_v2`, the storage classes,
dtypes, `torch.device`, `torch.Size`; each mapped onto a plugtorch object, PyTorch is never
imported), no more than PyTorch's weights_only allowlist, plus those added with
`add_safe_globals` can be looked up, and BUILD (setting an object's state) is allowed only on
instances of those classes. The builtins may be called only with the arguments pickle itself
writes for them (`_BUILTIN_ARGS`: ``set(list)``, ``bytearray(str, "latin-1")``, ...), never
with a size or a lazy iterable, so the memory an object takes is bounded by the bytes of its
record: a short record cannot expand into ``set(range(10**12))``. Everything a file can make
the unpickler call is therefore a constructor of plain data, and the tensor rebuilders check
that a tensor's geometry stays inside its storage and set no attribute a tensor itself uses,
so a crafted file can neither run code, nor exhaust memory, nor make a kernel read out of
bounds.
"""
import _codecs
import _compat_pickle
import collections
import contextlib
import pickle


def _check_safe_global(module, name):
    if (module, name) in _SAFE_GLOBALS or (module, name) in _USER_GLOBALS:
        return
    raise pickle.UnpicklingError(
        f"Weights only load failed: the file refers to '{module}.{name}', which is not on the "
        f"weights_only allowlist. Loading it with weights_only=False would run code from the "
        f"file: do that only if you trust its source. To allow one trusted class or function, "
        f"use plugtorch.serialization.add_safe_globals([...]).")


class WeightsUnpickler(pickle._Unpickler):
    """Restricted unpickler (NOTE [weights_only]); pure Python so BUILD can be vetted."""
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, loader, names=lambda module, name: None):
        super().__init__(file)
        self._loader, self._names = loader, names

    def persistent_load(self, pid):
        return self._loader(pid)

    def find_class(self, module, name):
        if self.proto < 3:          # names as pickle protocol 2 writes them (__builtin__)
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = self._names(module, name)       # PyTorch's names, mapped without importing
        if found is not None:
            return found
        _check_safe_global(module, name)
        return super().find_class(module, name)

    def _load_build(self):
        inst = self.stack[-2]          # the stack ends with (object, state)
        if not any(type(inst) is c for c in _build_classes()):
            raise pickle.UnpicklingError(
                f"Weights only load failed: setting the state of a {type(inst).__name__} "
                f"object is not allowed; load with weights_only=False only if you trust the "
                f"file, since that can run code from it")
        pickle._Unpickler.load_build(self)

    dispatch[pickle.BUILD[0]] = _load_build

    def _load_reduce(self):
        func, args = self.stack[-2], self.stack[-1]
        check = next((c for f, c in _BUILTIN_ARGS.items() if func is f), None)
        if check is not None and not (isinstance(args, tuple) and check(args)):
            raise pickle.UnpicklingError(
                f"Weights only load failed: {func.__name__} called with arguments of types "
                f"{_type_names(args)}, which pickle never writes for it")
        pickle._Unpickler.load_reduce(self)

    dispatch[pickle.REDUCE[0]] = _load_reduce

    def _load_frozenset(self):
        raise pickle.UnpicklingError("Weights only load failed: frozenset is not on the "
                                     "weights_only allowlist")

    dispatch[pickle.FROZENSET[0]] = _load_frozenset


def _type_names(args):
    if not isinstance(args, tuple):
        return type(args).__name__
    return "(" + ", ".join(type(a).__name__ for a in args) + ")"


def _numbers(args):
    return len(args) <= 2 and all(type(a) in (int, float) for a in args)


# the arguments pickle writes for each allowed builtin: all already materialized data
_BUILTIN_ARGS = {
    set: lambda a: a == () or (len(a) == 1 and type(a[0]) is list),
    bytearray: lambda a: a == () or (len(a) == 1 and type(a[0]) is bytes) or (
        len(a) == 2 and type(a[0]) is str and a[1] == "latin-1"),
    complex: _numbers,
    _codecs.encode: lambda a: len(a) == 2 and type(a[0]) is str and a[1] == "latin1",
    collections.OrderedDict: lambda a: a == () or (len(a) == 1 and type(a[0]) is list),
}


def _build_classes():
    return [collections.OrderedDict] + [o for o in _USER_GLOBALS.values()
                                        if isinstance(o, type)]


# ----------------------------------------------------------------------------- allowlist

_SAFE_GLOBALS = frozenset([
    ("collections", "OrderedDict"),
    ("builtins", "set"), ("builtins", "complex"), ("builtins", "bytearray"),
    ("_codecs", "encode"),                       # bytes under pickle protocol 2
    ("plugtorch.serialization", "_rebuild_tensor"),
    ("plugtorch._dtype", "_by_name"),
    ("plugtorch._device", "device"),
    ("plugtorch._size", "Size"),
])
_USER_GLOBALS = {}      # (module, qualname) -> object


def add_safe_globals(safe_globals):
    """Allow these trusted classes or functions in ``load(weights_only=True)``.

    Args:
        safe_globals: a list of objects, or of (object, "module.name") pairs.

    Example:
        >>> import plugtorch as torch
        >>> torch.serialization.add_safe_globals([complex])
    """
    for entry in safe_globals:
        obj, full = entry if isinstance(entry, tuple) else (entry, None)
        if full is None:
            full = f"{obj.__module__}.{obj.__qualname__}"
        module, _, name = full.rpartition(".")
        _USER_GLOBALS[(module, name)] = obj


def get_safe_globals():
    """The objects added with `add_safe_globals`."""
    return list(_USER_GLOBALS.values())


def clear_safe_globals():
    """Forget every object added with `add_safe_globals`."""
    _USER_GLOBALS.clear()


@contextlib.contextmanager
def safe_globals(objs):
    """Context manager: `add_safe_globals(objs)` for the duration of the block."""
    saved = dict(_USER_GLOBALS)
    add_safe_globals(objs)
    try:
        yield
    finally:
        _USER_GLOBALS.clear()
        _USER_GLOBALS.update(saved)

