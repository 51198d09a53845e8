"""Versions of the local scanning rules, kept apart from the rules so the cache-hit path can key by
them without compiling a single pattern.

Bump a version whenever its rules change what they find: cache keys and the per-machine scan memo
include it, so answers and scans computed under older rules are not reused.
"""

from __future__ import annotations

__all__ = ["INJECTION_POLICY_VERSION", "REDACTION_POLICY_VERSION"]

REDACTION_POLICY_VERSION = "3"  # redact.py: what is replaced before anything is sent or hashed
INJECTION_POLICY_VERSION = "1"  # injection.py: what counts as text addressed to the reviewing model
