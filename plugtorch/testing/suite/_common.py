"""Helpers shared by the suite's test modules."""
import plugtorch


def widest_float(device):
    """float64 where the backend of `device` has it (references are float64), else float32."""
    backend = plugtorch.empty(0, device=device)._storage.backend
    return plugtorch.float64 if plugtorch.float64 in backend.dtypes else plugtorch.float32
