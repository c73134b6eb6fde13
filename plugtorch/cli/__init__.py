"""The `plugtorch` command (also `python -m plugtorch`).

    plugtorch info [--plugin MODULE] [--json]
    plugtorch coverage NAME [--plugin MODULE]
    plugtorch conformance NAME [--plugin MODULE] [--strict] [-k EXPR] [--report FILE]
                               [pytest options...]
    plugtorch demo [--device DEVICE] [--epochs N] [...]
    plugtorch bench [...]
    plugtorch run --nproc-per-node N [--hostfile FILE] SCRIPT [ARGS...]

Every command answers ``-h``/``--help``. `--plugin MODULE` (repeatable) imports a backend
plugin and registers it first, for a backend that is not installed with an entry point
(e.g. examples/minimal_backend).

Exit status: 0 success, 1 failure (e.g. a conformance test failed), 2 usage error (bad
arguments, unknown backend), 3 backend not available here, 130 interrupted (Ctrl-C),
141 output pipe closed early (e.g. ``plugtorch coverage cpu | head -3``).
"""
import argparse
import importlib
import os
import sys

import plugtorch

__all__ = ["main", "build_parser", "CommandError"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_PIPE = 130, 141

_EPILOG = ("exit status: 0 success, 1 failure, 2 usage error, 3 backend not available, "
           "130 interrupted")
# commands whose arguments go unchanged to a module's own main(argv)
_FORWARDED = {"demo": ("plugtorch.demo", "train a small CNN on 8x8 digits and report "
                                         "its test accuracy"),
              "bench": ("plugtorch.bench", "benchmark plugtorch's backends"),
              "run": ("plugtorch.distributed.run", "run a script on several processes "
                                                   "(ranks) with mpiexec")}


class CommandError(Exception):
    """A failure the command reports as one line on stderr, with exit status `code`."""

    def __init__(self, message, code=EXIT_FAILURE):
        super().__init__(message)
        self.code = code


class _DeprecatedPlugin(argparse.Action):
    """`--backend-plugin MODULE`: the old spelling of `--plugin`, still accepted."""

    def __call__(self, parser, namespace, value, option_string=None):
        print(f"{parser.prog}: {option_string} is deprecated; use --plugin", file=sys.stderr)
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), value])


def _plugin_options():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE and register it as a backend plugin first "
                        "(repeatable), e.g. plugtorch_minimal")
    p.add_argument("--backend-plugin", action=_DeprecatedPlugin, dest="plugin",
                   metavar="MODULE", help=argparse.SUPPRESS)
    return p


def build_parser():
    """The argument parser of the `plugtorch` command and of each subcommand."""
    from . import _conformance, _info
    parser = argparse.ArgumentParser(
        prog="plugtorch", allow_abbrev=False, epilog=_EPILOG,
        description="plugtorch: a PyTorch-style framework with pluggable device backends.")
    parser.add_argument("--version", action="version",
                        version=f"plugtorch {plugtorch.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.required = True
    common = [_plugin_options()]

    p = sub.add_parser("info", parents=common, allow_abbrev=False, epilog=_EPILOG,
                       help="list the backends, whether each can run here, and their devices",
                       description="List every backend plugin, whether it can run here (and "
                                   "why not), and its devices.")
    p.add_argument("--json", action="store_true", help="print the same as one JSON object")
    p.set_defaults(run=_info.info)

    p = sub.add_parser("coverage", parents=common, allow_abbrev=False, epilog=_EPILOG,
                       help="how each primitive runs on a backend",
                       description="Print how each primitive runs on backend NAME: its own "
                                   "kernel, a decomposition into other primitives, or the CPU "
                                   "fallback; and the ops that therefore use a fallback.")
    p.add_argument("name", metavar="NAME", help="backend (device type), e.g. cpu or opencl")
    p.set_defaults(run=_info.coverage)

    p = sub.add_parser("conformance", parents=common, allow_abbrev=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="run the conformance suite on a backend",
                       description=_conformance.DESCRIPTION, epilog=_conformance.EPILOG)
    p.add_argument("name", metavar="NAME", help="backend (device type), e.g. cpu or opencl")
    p.add_argument("--strict", action="store_true",
                   help="fail any test during which a CPU fallback ran (see "
                        "plugtorch.debug.strict)")
    p.add_argument("-k", metavar="EXPR", dest="keyword",
                   help="only run tests matching the expression (pytest's -k), e.g. "
                        "'exp or sort'")
    p.add_argument("--report", metavar="FILE",
                   help="also write the results to FILE; the format follows its extension: "
                        + ", ".join(_conformance.REPORT_FORMATS))
    p.set_defaults(run=_conformance.conformance, pytest_args=True)

    for name, (_, summary) in _FORWARDED.items():
        sub.add_parser(name, add_help=False, help=f"{summary} (options: plugtorch {name} -h)")
    return parser


def _register(plugins):
    """Import and register each `--plugin` module."""
    for name in plugins:
        try:
            mod = importlib.import_module(name)
        except ImportError as e:
            raise CommandError(f"--plugin {name}: cannot import it: {e}", EXIT_USAGE) from e
        try:
            plugtorch.backends.register(mod)
        except Exception as e:
            raise CommandError(f"--plugin {name}: {e}", EXIT_UNAVAILABLE) from e


def get_backend(name):
    """The started backend `name`, or a CommandError: 2 when no backend has that name,
    3 when it exists but cannot run here."""
    try:
        return plugtorch.backends.get(name)
    except plugtorch.backends.BackendUnavailable as e:
        raise CommandError(f"{e} (`plugtorch info` says what this machine has)",
                           EXIT_UNAVAILABLE) from e
    except RuntimeError as e:
        raise CommandError(f"{e} (install its package, or pass --plugin MODULE)",
                           EXIT_USAGE) from e


def _forward(command, argv):
    module, summary = _FORWARDED[command]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        if any(a in ("-h", "--help") for a in argv):
            print(f"usage: plugtorch {command} [...]\n\n{summary}: not available in this "
                  f"installation of plugtorch ({module} is missing).")
            return EXIT_OK
        raise CommandError(f"not available in this installation of plugtorch "
                           f"({module} is missing)", EXIT_USAGE) from e
    return mod.main(argv)


def _run(argv):
    if argv and argv[0] in _FORWARDED:
        try:
            return _forward(argv[0], argv[1:])
        except CommandError as e:
            print(f"plugtorch {argv[0]}: {e}", file=sys.stderr)
            return e.code
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    sub = parser._subparsers._group_actions[0].choices[args.command]
    if getattr(args, "pytest_args", None):
        args.pytest_args = extra        # the rest goes to pytest
    elif extra:
        sub.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        _register(args.plugin)
        return args.run(args)
    except CommandError as e:
        print(f"{sub.prog}: {e}", file=sys.stderr)
        return e.code


def _close_stdout():
    # the reader went away: send whatever is still buffered nowhere, so the flush at exit
    # raises no second BrokenPipeError
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def main(argv=None):
    """Run the `plugtorch` command with `argv` (default: sys.argv[1:]); return its exit
    status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        code = _run(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _close_stdout()
        return EXIT_PIPE
    except KeyboardInterrupt:
        print("\nplugtorch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
