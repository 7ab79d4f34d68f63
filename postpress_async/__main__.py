"""``python -m postpress_async``: the ``postpress`` command line."""

import sys

from postpress_async.cli import main

if __name__ == "__main__":
    sys.exit(main())
