"""Failing tests explained: the pytest session side (`session`: capture, report) and the requests to the
assistant with the local explainers as the floor (`requests`)."""

from __future__ import annotations
