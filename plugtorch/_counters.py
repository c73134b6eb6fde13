"""Debug counters shared by the tensor layer and the dispatcher: host transfers and CPU
fallbacks per backend (read them through `plugtorch.debug`)."""
from collections import Counter

#: ("fallback", backend, op), ("to_host", backend) / ("to_device", backend) and
#: ("capture", "replays") -> count
COUNTERS = Counter()
