"""`python -m plugtorch`: the `plugtorch` command (see plugtorch.cli)."""
import sys

from plugtorch.cli import main

if __name__ == "__main__":
    sys.exit(main())
