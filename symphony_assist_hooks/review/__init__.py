"""The review pipeline (`pipeline`: diff -> hunks -> requests -> findings), the local scans it runs
(`scans`), the baseline and inline suppressions (`baseline`) and replay, the whole-run cache (`replay`,
`recorder`).

Kept empty: the hook's replay path imports `review.replay` before anything else is loaded.
"""

from __future__ import annotations
