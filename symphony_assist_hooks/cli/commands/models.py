"""`symphony-assist models`: the provider's models, the active key (masked) and whether it works."""

from __future__ import annotations

import argparse
import json
import time

from ...assistant import make_provider
from ...config import Settings
from ...errors import EXIT_NO_KEY, EXIT_OK, EXIT_PROVIDER, ProviderError
from ...logsafe import inert_json, inert_line
from ...terminal.console import Console
from .keys import keyring

OFFLINE_NOTE = "offline (--offline or SYMPHONY_ASSIST_OFFLINE): no request made, the key was not tried"


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    ring = keyring(settings)
    keys = ring.describe()
    doc: dict[str, object] = {
        "keys": keys,
        "primary_model": settings.model_primary,
        "fallback_model": settings.model_fallback,
        "base_url": settings.base_url,
    }
    if settings.offline:
        # Not an error: offline mode asks nothing, so no key is tried and the list stays empty (the
        # key lines still say which keys are configured).
        doc.update(works=None, error=None, note=OFFLINE_NOTE, models=[])
        code = EXIT_OK
    elif not settings.has_key and not settings.server_url:
        doc.update(works=False, error="no API key configured", models=[])
        code = EXIT_NO_KEY
    else:
        try:
            models = make_provider(settings).list_models(deadline=time.monotonic() + settings.timeout)
            doc.update(works=True, error=None, models=sorted(models))
            code = EXIT_OK
        except ProviderError as exc:
            doc.update(works=False, error=str(exc), models=[])
            code = EXIT_PROVIDER
    if args.json:
        console.print(inert_json(json.dumps(doc, indent=2)))
        return code
    for k in keys:
        mark = "*" if k.get("active") else " "
        shown = k.get("key_hint") or "not configured"
        console.print(f"{mark} {k['alias']:<10} {shown}")
    console.print(f"models: primary {settings.model_primary}, fallback {settings.model_fallback}")
    if doc["works"]:
        console.print("key works; available models:")
        for m in doc["models"]:  # type: ignore[attr-defined]
            console.print(inert_line(f"  {m}"))  # model ids come from the server
    elif doc.get("note"):
        console.notice(str(doc["note"]))
    elif doc["error"]:
        console.error(str(doc["error"]))
    return code
