"""`symphony-assist serve`: run the HTTP API (extra `server`) so one host keeps the keys, cache and budget.

Binds 127.0.0.1 by default. Any other address needs `SYMPHONY_ASSIST_SERVER_TOKEN` (at least 32
random characters); without one the command refuses to start (one line, exit 2). See server/__init__.py.
"""

from __future__ import annotations

import argparse
import ipaddress

from ...config import Settings
from ...errors import EXIT_OK, UsageError
from ...terminal.console import Console


def _loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    public = not _loopback(args.host)
    if public and settings.server_token is None:  # before importing anything heavy
        raise UsageError(
            f"refusing to serve on {args.host} without a token: set SYMPHONY_ASSIST_SERVER_TOKEN "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))') or bind 127.0.0.1"
        )
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a TCP port (0-65535)")
    try:
        import uvicorn

        from ...server import create_app  # deferred: fastapi behind it (the server extra)
    except ImportError:
        raise UsageError(
            "serve needs the 'server' extra: pip install -e '.[server]' in a checkout (README: Installing)"
        ) from None
    app = create_app(settings, public=public)
    host = f"[{args.host}]" if ":" in args.host else args.host
    console.notice(f"API on http://{host}:{args.port}" + ("" if public else " (docs at /docs)"))
    # proxy_headers off: the peer address keys the rate limits and must not come from a header.
    uvicorn.run(app, host=args.host, port=args.port, proxy_headers=False, server_header=False, log_level="info")
    return EXIT_OK
