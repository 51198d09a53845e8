"""The usage report: figures from the stats events (`figures`), SVG charts (`charts`), the HTML page (`html`)."""

from __future__ import annotations
