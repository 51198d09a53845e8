"""git access through its CLI: the process runner (`process`, `env`), the raw listing (`listing`), patch
parsing (`patch`, `model`), skip rules (`skip`) and the changes a review reads (`changes`).

Kept empty: the hook's replay path imports `git.env` before anything else is loaded.
"""

from __future__ import annotations
