"""Hooks a backend plugin implements. pluggy calls them once, when backends are collected;
no hook runs on the per-op path."""
import pluggy

hookspec = pluggy.HookspecMarker("plugtorch")
hookimpl = pluggy.HookimplMarker("plugtorch")


@hookspec
def plugtorch_register_backends(register):
    """Register the backends this plugin provides.

    Called once, the first time plugtorch needs a backend. Call
    ``register(name, factory)`` for each device type: `factory()` takes no arguments and
    returns a `plugtorch.backends.Backend`; it is called only when that device type is first
    used, so a plugin's heavy imports (pyopencl, cupy) happen then. An exception raised by
    this hook or by the factory marks that plugin's backends unavailable with the error as
    the reason; it never breaks `import plugtorch`.
    """
