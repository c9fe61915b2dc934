"""``python -m botify``: the same as the ``botify`` console script."""

import sys

from botify.cli import main

sys.exit(main())
