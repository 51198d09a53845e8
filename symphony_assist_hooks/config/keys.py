"""Keys in memory and the masks that make keys and URLs safe to print.

Stdlib only (it runs on every cache hit). `Secret` holds an API key or token; its str()/repr() are
masked, so a key cannot leak through a log line or an exception message by accident. `mask_key` and
`mask_url` are the masks, for anything else that must show a credential-bearing value.
"""

from __future__ import annotations

__all__ = ["Secret", "mask_key", "mask_url"]


def mask_key(key: str) -> str:
    """`sk-…abcd`: a short issuer prefix and the last four characters, never more."""
    if len(key) <= 8:
        return "…" + key[-2:] if len(key) > 4 else "…"
    prefix = "sk-" if key.startswith("sk-") else ""
    return f"{prefix}…{key[-4:]}"


class Secret:
    """A key held in memory. Only `reveal()` gives the value; everything else shows it masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        return mask_key(self._value)

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"Secret({self.masked()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def mask_url(url: str) -> str:
    """The URL with its password (`user:***@`, `?password=***`) masked; a bare userinfo is masked
    whole, since a client would send it as a credential. Safe to print."""
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if colon else f"***@{host}"
    query = "&".join(
        item.split("=")[0] + "=***" if item.split("=")[0].lower() == "password" else item
        for item in parts.query.split("&")
        if item
    )
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
