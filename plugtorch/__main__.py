"""The `plugtorch` command: backend information, conformance runs, kernel coverage, the demo.

    plugtorch info [--plugin MODULE]
    plugtorch conformance NAME [--plugin MODULE] [--strict] [pytest args...]
    plugtorch coverage NAME [--plugin MODULE]
    plugtorch demo [--device DEVICE] [--epochs N] [...]   (options: plugtorch demo --help)

`--plugin MODULE` (repeatable) imports a backend plugin and registers it first, for a
backend that is not installed with an entry point (e.g. examples/minimal_backend).
`--strict` makes any CPU fallback a failure (see plugtorch.debug.strict).
"""
import importlib
import sys

STATUS_ORDER = ("FAIL", "unsup", "fb", "ok", "skip")
_SHORT = {"bool": "b", "uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32",
          "int64": "i64", "float16": "f16", "float32": "f32", "float64": "f64"}


def _pop_plugins(argv):
    """Split `--plugin MODULE` / `--plugin=MODULE` out of argv."""
    plugins, rest, it = [], [], iter(argv)
    for a in it:
        if a == "--plugin":
            plugins.append(next(it, None) or _usage("--plugin needs a module name"))
        elif a.startswith("--plugin="):
            plugins.append(a.split("=", 1)[1])
        else:
            rest.append(a)
    return plugins, rest


def _usage(msg=None):
    if msg:
        print(f"plugtorch: {msg}", file=sys.stderr)
    print("usage:\n" + __doc__.strip().split("\n\n")[1], file=sys.stderr)
    raise SystemExit(2)


def _register(plugins):
    import plugtorch
    for name in plugins:
        mod = importlib.import_module(name)
        plugtorch.backends.register(mod)
    return plugtorch


# ----------------------------------------------------------------------------- info

def info(plugins):
    """Print every backend, its availability (with the reason) and its devices."""
    plugtorch = _register(plugins)
    print(f"plugtorch {plugtorch.__version__}")
    for b in plugtorch.backends.list():
        name = b["name"] or "(plugin failed to load)"
        state = "available" if b["available"] else "unavailable"
        print(f"{name:<12} {state:<12} plugin {b['plugin']}")
        if not b["available"]:
            print(f"    reason: {b['reason']}")
            continue
        for dev in plugtorch.backends.get(b["name"]).describe():
            extra = ", ".join(f"{k}={v}" for k, v in dev.items() if k != "device")
            print(f"    {dev.get('device') or '(left out)'}" + (f": {extra}" if extra else ""))
    return 0


# ----------------------------------------------------------------------------- coverage

def coverage(name, plugins):
    """Print how each primitive runs on backend `name` (its own kernel, a decomposition into
    other primitives, or the CPU fallback), the ops it overrides, and the declared ops that
    therefore use a fallback."""
    plugtorch = _register(plugins)
    from plugtorch import _dispatch
    from plugtorch.ops import OPS
    backend = plugtorch.backends.get(name)
    report = _dispatch.coverage(backend)
    required = plugtorch.backends.REQUIRED
    have = len(report["required"])
    print(f"backend {name}: {have}/{len(required)} required primitives, "
          f"{len(report['native']) - have}/{len(plugtorch.backends.OPTIONAL)} optional ones")
    for key, title in (("native", "native"), ("decomposed", "decomposed"),
                       ("fallback", "CPU fallback"), ("overrides", "overridden ops")):
        print(f"{title} ({len(report[key])}): {' '.join(report[key]) or '-'}")
    missing = set(report["fallback"])
    slow = sorted(op.name for op in OPS.values() if op.primitive in missing)
    print(f"declared ops on a fallback primitive ({len(slow)}): {' '.join(slow) or '-'}")
    return 0


# ----------------------------------------------------------------------------- conformance

class _Matrix:
    """pytest plugin collecting the op x dtype outcome of each conformance test."""

    def __init__(self):
        self.cells = {}      # (op, dtype) -> set of statuses of its forward checks
        self.grads = {}      # op -> set of statuses of its gradient check

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        if "op" not in props or (report.when != "call" and not report.failed
                                 and not report.skipped):
            return
        if report.failed:
            status = "FAIL"
        elif report.skipped:
            reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
            status = "unsup" if "unsupported" in reason else "skip"
        else:
            status = "fb" if props.get("fallback") else "ok"
        if props["check"] in ("test_op_gradient", "test_torch_gradient"):
            self.grads.setdefault(props["op"], set()).add(status)
        else:
            self.cells.setdefault((props["op"], props["dtype"]), set()).add(status)

    @staticmethod
    def _worst(statuses):
        return next((s for s in STATUS_ORDER if s in statuses), "")

    def render(self, backend):
        ops = sorted({op for op, _ in self.cells} | set(self.grads))
        if not ops:
            return "no op tests ran"
        cols = list(_SHORT)
        width = max(len(o) for o in ops) + 1
        lines = [f"conformance of backend {backend!r}: op x dtype "
                 f"(ok pass, fb pass using a CPU fallback, FAIL, unsup dtype unsupported, "
                 f"skip nothing to check, . not declared)",
                 " " * width + "".join(f"{_SHORT[c]:>6}" for c in cols) + f"{'grad':>6}"]
        counts = {}
        for op in ops:
            row = []
            for c in cols:
                s = self._worst(self.cells.get((op, c), ()))
                counts[s] = counts.get(s, 0) + bool(s)
                row.append(s or ".")
            g = self._worst(self.grads.get(op, ())) or "."
            lines.append(f"{op:<{width}}" + "".join(f"{s:>6}" for s in row) + f"{g:>6}")
        lines.append("cells: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUS_ORDER))
        return "\n".join(lines)


def conformance(name, plugins, pytest_args):
    """Run the conformance suite on backend `name`; print the op x dtype matrix."""
    import pytest
    _register(plugins)
    matrix = _Matrix()
    args = ["--pyargs", "plugtorch.testing.suite", "--backend", name, "-q",
            "-p", "no:cacheprovider"]
    for p in plugins:
        args += ["--backend-plugin", p]
    code = pytest.main(args + list(pytest_args), plugins=[matrix])
    print()
    print(matrix.render(name))
    return int(code)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        _usage()
    cmd, rest = argv[0], argv[1:]
    if cmd == "demo":  # its own argparse options: `plugtorch demo --help`
        from .demo import main as demo_main
        return demo_main(rest)
    if cmd == "info":
        plugins, extra = _pop_plugins(rest)
        if extra:
            _usage(f"info: unexpected arguments {extra}")
        return info(plugins)
    if cmd in ("conformance", "coverage"):
        if not rest or rest[0].startswith("-"):
            _usage(f"{cmd}: which backend? e.g. plugtorch {cmd} cpu")
        name = rest[0]
        if cmd == "coverage":
            plugins, extra = _pop_plugins(rest[1:])
            if extra:
                _usage(f"coverage: unexpected arguments {extra}")
            return coverage(name, plugins)
        # --plugin options come before the pytest arguments
        plugins, extra, tail = [], [], rest[1:]
        while tail and (tail[0] == "--plugin" or tail[0].startswith("--plugin=")):
            found, _ = _pop_plugins(tail[:2] if tail[0] == "--plugin" else tail[:1])
            plugins += found
            tail = tail[2:] if tail[0] == "--plugin" else tail[1:]
        return conformance(name, plugins, tail)
    _usage(f"unknown command {cmd!r}")


if __name__ == "__main__":
    sys.exit(main())
