"""`python -m workers.cli ...`: the same as `backroom ...` (the demo and tests start it so)."""

from __future__ import annotations

import sys

from workers.cli import main

sys.exit(main())
