"""`plugtorch info` and `plugtorch coverage`."""
import json

import plugtorch

from . import get_backend


def human_bytes(n):
    """A byte count in binary units: 7207641088 -> '6.7 GiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _value(key, value):
    if key.endswith("memory") and isinstance(value, int) and not isinstance(value, bool):
        return human_bytes(value)
    return value


def backends_info():
    """Every backend as a dict: name, plugin, available, reason, devices (their
    `describe()` entries; memory in bytes)."""
    out = []
    for b in plugtorch.backends.list():
        entry = {"name": b["name"], "plugin": b["plugin"], "available": b["available"],
                 "reason": b["reason"] or None, "devices": []}
        if b["available"]:
            entry["devices"] = plugtorch.backends.get(b["name"]).describe()
        out.append(entry)
    return out


def info(args):
    """Print every backend, its availability (with the reason) and its devices."""
    backends = backends_info()
    if args.json:
        print(json.dumps({"version": plugtorch.__version__, "backends": backends}, indent=2,
                         default=str))
        return 0
    print(f"plugtorch {plugtorch.__version__}")
    for b in backends:
        name = b["name"] or "(plugin failed to load)"
        state = "available" if b["available"] else "unavailable"
        print(f"{name:<12} {state:<12} plugin {b['plugin']}")
        if not b["available"]:
            print(f"    reason: {b['reason']}")
        for dev in b["devices"]:
            extra = ", ".join(f"{k}={_value(k, v)}" for k, v in dev.items() if k != "device")
            print(f"    {dev.get('device') or '(left out)'}" + (f": {extra}" if extra else ""))
    return 0


def coverage(args):
    """Print how each primitive runs on backend `name` (its own kernel, a decomposition into
    other primitives, or the CPU fallback), the ops it overrides, and the declared ops that
    therefore use a fallback."""
    from plugtorch import _dispatch
    from plugtorch.ops import OPS
    name = args.name
    report = _dispatch.coverage(get_backend(name))
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
    host = report["fallback_ops"]
    print(f"ops on the CPU fallback (no kernel of its own) ({len(host)}): "
          f"{' '.join(host) or '-'}")
    return 0
