"""`python -m symphony_assist_hooks` is the `symphony-assist` command."""

from __future__ import annotations

import sys

from .entry import main

sys.exit(main())
