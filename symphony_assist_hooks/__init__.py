"""symphony-assist: a careful, cheap AI reviewer for pre-commit, pytest and CI.

The public API is loaded lazily (PEP 562): `import symphony_assist_hooks` stays on the standard library,
because pytest imports this package for its plugin on every run, and the hook's cache-hit path is
measured in milliseconds.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~5 ms on every hook run)
__version__ = "0.1.0"

_EXPORTS = {
    "Assistant": "symphony_assist_hooks.assistant",
    "Explanation": "symphony_assist_hooks.findings",
    "Failure": "symphony_assist_hooks.findings",
    "Finding": "symphony_assist_hooks.findings",
    "Item": "symphony_assist_hooks.assistant.request",
    "Report": "symphony_assist_hooks.findings",
    "Request": "symphony_assist_hooks.assistant.request",
    "Response": "symphony_assist_hooks.assistant.request",
    "ReviewOptions": "symphony_assist_hooks.review.pipeline",
    "Settings": "symphony_assist_hooks.config",
    "Severity": "symphony_assist_hooks.findings",
    "SymphonyError": "symphony_assist_hooks.errors",
    "hookimpl": "symphony_assist_hooks.hookspecs",
    "load_registry": "symphony_assist_hooks.assistant.prompts",
    "load_settings": "symphony_assist_hooks.config",
    "review_changes": "symphony_assist_hooks.review.pipeline",
}

__all__ = [
    "Assistant",
    "Explanation",
    "Failure",
    "Finding",
    "Item",
    "Report",
    "Request",
    "Response",
    "ReviewOptions",
    "Settings",
    "Severity",
    "SymphonyError",
    "__version__",
    "hookimpl",
    "load_registry",
    "load_settings",
    "review_changes",
]

if TYPE_CHECKING:
    from typing import Any

    from .assistant import Assistant
    from .assistant.prompts import load_registry
    from .assistant.request import Item, Request, Response
    from .config import Settings, load_settings
    from .errors import SymphonyError
    from .findings import Explanation, Failure, Finding, Report, Severity
    from .hookspecs import hookimpl
    from .review.pipeline import ReviewOptions, review_changes


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'symphony_assist_hooks' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
