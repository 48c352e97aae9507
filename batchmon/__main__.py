"""``python -m batchmon``: the same as the ``batchmon`` script."""

from batchmon.cli import main

raise SystemExit(main())
