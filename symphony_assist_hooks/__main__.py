"""`python -m symphony_assist_hooks` is the `symphony-assist` command."""

from __future__ import annotations

import os
import sys

# `python -m` puts the current directory first on sys.path. The current directory is usually the
# repository under review, which is data: its `jinja2.py`, `openai.py` or `*.dist-info` entry points
# must never be imported by us. Our own package is already imported at this point.
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from .entry import main

sys.exit(main())
