"""Scanning diff content before anything leaves the machine: secret rules and heuristics (`rules`,
`heuristics`), redaction (`redact`, `policy`), sensitive file names (`sensitive`), prompt injection
(`injection`)."""

from __future__ import annotations
