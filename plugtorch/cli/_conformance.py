"""`plugtorch conformance NAME`: run the conformance suite (plugtorch.testing.suite) on one
backend with pytest, then list the failures, the CPU fallbacks that ran (per op, counted)
and an op x dtype matrix; optionally write it all to a report file."""
import html
import json
import os

from plugtorch import debug

from . import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError, get_backend

DESCRIPTION = """\
Run the conformance suite (plugtorch.testing.suite) on backend NAME with pytest, then print
the failures, the CPU fallbacks that ran (which ops, how often) and an op x dtype
matrix of the results.

Matrix cells: ok pass, fb pass using a CPU fallback, FAIL, unsup dtype unsupported,
skip nothing to check, . not declared.

Options this command does not know go to pytest unchanged, e.g. -x or --maxfail=3."""
EPILOG = """\
exit status: 0 every test passed, 1 a test failed, 2 usage error (bad arguments, unknown
backend, no test selected), 3 backend not available here, 130 interrupted"""

STATUS_ORDER = ("FAIL", "unsup", "fb", "ok", "skip")
_SHORT = {"bool": "b", "uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32",
          "int64": "i64", "float16": "f16", "float32": "f32", "float64": "f64"}


class Results:
    """pytest plugin collecting a conformance run: outcomes, failures, the CPU fallbacks run
    during each test, and the op x dtype status of each op test."""

    def __init__(self, backend):
        self.backend = backend
        self.cells = {}      # (op, dtype) -> set of statuses of its forward checks
        self.grads = {}      # op -> set of statuses of its gradient check
        self.outcomes = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0}
        self.failures = []   # (test id, one-line reason)
        self.fallbacks = {}  # op -> [calls, tests]
        self.interrupted = False

    def pytest_runtest_call(self, item):
        item._plugtorch_fallbacks = debug.fallbacks(self.backend)

    def pytest_runtest_teardown(self, item):
        before = getattr(item, "_plugtorch_fallbacks", None)
        if before is None:
            return
        for op, n in debug.fallbacks(self.backend).items():
            ran = n - before.get(op, 0)
            ran = n if ran < 0 else ran      # the test reset the counters
            if ran:
                calls_tests = self.fallbacks.setdefault(op, [0, 0])
                calls_tests[0] += ran
                calls_tests[1] += 1

    def pytest_keyboard_interrupt(self, excinfo):
        self.interrupted = True

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.outcomes["failed"] += 1
            self.failures.append((report.nodeid, _reason(report)))
        elif report.skipped:
            self.outcomes["xfailed" if hasattr(report, "wasxfail") else "skipped"] += 1
        elif report.when == "call":
            self.outcomes["passed"] += 1
        self._cell(report)

    def _cell(self, report):
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

    # -- the results as data

    def matrix(self):
        """(columns, {op: [status per column]}): the worst status of each cell, '.' where
        nothing ran; the last column is the gradient check."""
        worst = lambda statuses: next((s for s in STATUS_ORDER if s in statuses), ".")  # noqa
        cols = [*_SHORT.values(), "grad"]
        rows = {}
        for op in sorted({op for op, _ in self.cells} | set(self.grads)):
            rows[op] = [worst(self.cells.get((op, dt), ())) for dt in _SHORT]
            rows[op].append(worst(self.grads.get(op, ())))
        return cols, rows

    def as_dict(self, exit_code):
        cols, rows = self.matrix()
        return {"backend": self.backend, "exit_code": exit_code, "outcomes": self.outcomes,
                "failures": [{"test": t, "reason": r} for t, r in self.failures],
                "fallbacks": {op: {"calls": c, "tests": t}
                              for op, (c, t) in sorted(self.fallbacks.items())},
                "matrix": {"columns": cols, "rows": rows}}

    # -- text for the terminal

    def render(self):
        lines = [f"failures ({len(self.failures)}):" if self.failures else "failures: none"]
        lines += [f"  {t}: {r}" for t, r in self.failures]
        lines.append(self._fallback_line())
        lines += [f"  {op:<22} {c:>7} call(s) in {t} test(s)"
                  for op, (c, t) in sorted(self.fallbacks.items())]
        lines += ["", self._matrix_text()]
        return "\n".join(lines)

    def _fallback_line(self):
        if not self.fallbacks:
            return "CPU fallbacks: none"
        calls = sum(c for c, _ in self.fallbacks.values())
        return f"CPU fallbacks: {calls} call(s) in {len(self.fallbacks)} op(s):"

    def _matrix_text(self):
        cols, rows = self.matrix()
        if not rows:
            return "no op tests ran"
        width = max(len(o) for o in rows) + 1
        lines = [f"conformance of backend {self.backend!r}: op x dtype "
                 f"(ok pass, fb pass using a CPU fallback, FAIL, unsup dtype unsupported, "
                 f"skip nothing to check, . not declared)",
                 " " * width + "".join(f"{c:>6}" for c in cols)]
        counts = dict.fromkeys(STATUS_ORDER, 0)
        for op, row in rows.items():
            for s in row[:-1]:
                counts[s] = counts.get(s, 0) + 1
            lines.append(f"{op:<{width}}" + "".join(f"{s:>6}" for s in row))
        lines.append("cells: " + ", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER))
        return "\n".join(lines)


def _reason(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    first = text.strip().splitlines()[0] if text.strip() else "failed"
    return first if report.when == "call" else f"{report.when} error: {first}"


# ----------------------------------------------------------------------------- reports

def _outcome_line(data):
    return (", ".join(f"{n} {k}" for k, n in data["outcomes"].items())
            + f" (exit status {data['exit_code']})")


def _markdown(data):
    lines = [f"# Conformance of backend `{data['backend']}`", "",
             _outcome_line(data), "", f"## Failures ({len(data['failures'])})",
             ""]
    lines += [f"- `{f['test']}`: {f['reason']}" for f in data["failures"]] or ["none"]
    lines += ["", f"## CPU fallbacks ({len(data['fallbacks'])} ops)", ""]
    if data["fallbacks"]:
        lines += ["| op | calls | tests |", "|---|---:|---:|"]
        lines += [f"| {p} | {v['calls']} | {v['tests']} |" for p, v in data["fallbacks"].items()]
    else:
        lines.append("none")
    cols, rows = data["matrix"]["columns"], data["matrix"]["rows"]
    lines += ["", "## Op x dtype", ""]
    if rows:
        lines += ["| op | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        lines += [f"| {op} | " + " | ".join(row) + " |" for op, row in rows.items()]
    else:
        lines.append("no op tests ran")
    return "\n".join(lines) + "\n"


def _html(data):
    e = html.escape
    title = f"Conformance of backend {e(data['backend'])}"
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
             "</head><body>", f"<h1>{title}</h1>",
             f"<p>{e(_outcome_line(data))}</p>",
             f"<h2>Failures ({len(data['failures'])})</h2>"]
    parts.append("<ul>" + "".join(f"<li><code>{e(f['test'])}</code>: {e(f['reason'])}</li>"
                                  for f in data["failures"]) + "</ul>"
                 if data["failures"] else "<p>none</p>")
    parts.append(f"<h2>CPU fallbacks ({len(data['fallbacks'])} ops)</h2>")
    parts.append("<table><tr><th>op</th><th>calls</th><th>tests</th></tr>" + "".join(
        f"<tr><td>{e(p)}</td><td>{v['calls']}</td><td>{v['tests']}</td></tr>"
        for p, v in data["fallbacks"].items()) + "</table>"
                 if data["fallbacks"] else "<p>none</p>")
    cols, rows = data["matrix"]["columns"], data["matrix"]["rows"]
    parts.append("<h2>Op x dtype</h2>")
    parts.append("<table><tr><th>op</th>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>"
                 + "".join(f"<tr><td>{e(op)}</td>" + "".join(f"<td>{e(s)}</td>" for s in row)
                           + "</tr>" for op, row in rows.items()) + "</table>"
                 if rows else "<p>no op tests ran</p>")
    return "\n".join(parts) + "\n</body></html>\n"


REPORT_FORMATS = {".md": _markdown, ".json": lambda d: json.dumps(d, indent=2) + "\n",
                  ".html": _html}


# ----------------------------------------------------------------------------- the command

def _exit_status(code, results):
    """pytest's exit code as this command's exit status."""
    code = int(code)
    if code == 0:
        return EXIT_OK
    if code == 2 and results.interrupted:
        return EXIT_INTERRUPTED
    if code in (4, 5):          # pytest usage error; no test selected
        return EXIT_USAGE
    return EXIT_FAILURE         # test failures, collection or internal errors


def conformance(args):
    """Run the conformance suite on backend `args.name`; print the failures, the CPU
    fallbacks and the op x dtype matrix."""
    import pytest
    writer = None
    if args.report:
        ext = os.path.splitext(args.report)[1].lower()
        writer = REPORT_FORMATS.get(ext)
        if writer is None:
            raise CommandError(f"--report {args.report}: unknown format {ext or '(none)'!r}; "
                               f"use a name ending in {', '.join(REPORT_FORMATS)}", EXIT_USAGE)
    get_backend(args.name)      # unknown (2) or unavailable (3): say so before pytest runs
    results = Results(args.name)
    pytest_args = ["-p", "plugtorch.testing.plugin", "--pyargs", "plugtorch.testing.suite",
                   "--backend", args.name, "-q", "-rN", "-p", "no:cacheprovider"]
    for p in args.plugin:
        pytest_args += ["--plugin", p]
    if args.strict:
        pytest_args.append("--strict")
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    code = pytest.main(pytest_args + list(args.pytest_args), plugins=[results])
    status = _exit_status(code, results)
    print()
    print(results.render())
    if int(code) == 5:
        print("no conformance test was selected (check -k)")
    if writer is not None:
        with open(args.report, "w", encoding="utf-8") as f:
            f.write(writer(results.as_dict(status)))
        print(f"report written to {args.report}")
    return status
