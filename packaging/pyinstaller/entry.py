"""Entry script of the bundled ``batchmon``: the same as the installed console script."""

from batchmon.cli import main

raise SystemExit(main())
