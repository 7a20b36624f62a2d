"""``python -m feedsmith`` is the same as the ``feedsmith`` console script."""

from feedsmith.cli import main

raise SystemExit(main())
