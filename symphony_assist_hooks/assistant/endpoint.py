"""Which service answers: one canonical string per endpoint, part of every cache key.

Two OpenAI-compatible servers may both call their model `gpt-4o-mini` and still answer differently, so
an answer is filed under the endpoint that gave it: the base URL's scheme, host, port and path (the
default port and a trailing slash dropped, host lower-cased; no credentials, query or fragment), or the
symphony-assist server's URL when one is configured. Stdlib only: the cache-hit path computes it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["OPENAI_API", "endpoint_of", "normalize"]

OPENAI_API = "https://api.openai.com/v1"  # the SDK's default base URL
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize(url: str) -> str:
    """scheme://host[:port]/path of `url`, canonical: safe to print and to hash (no credentials)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a malformed port: keep the text, the SDK will refuse the URL anyway
        port = None
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


def endpoint_of(base_url: str | None, server_url: str | None = None) -> str:
    """The endpoint a run's requests go to: the symphony-assist server if set, else the base URL."""
    if server_url:
        return "server " + normalize(server_url)
    return normalize(base_url or OPENAI_API)
