"""`python -m bench`: every benchmark, one table (see bench/run.py)."""

from __future__ import annotations

from .run import main

raise SystemExit(main())
