"""Did any part of a secret reach the fake server? The 10-character window check of issue 16.

`sent_text(fake)` is everything the fake server recorded: each request's raw body, and every string in
its JSON decoded (so a secret holding `"` or `\\` is compared as written, not as JSON escapes it).
`leaked(secret, text)` lists the 10-character windows of `secret` found in `text`; a secret shorter
than the window is looked for whole.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator, Mapping
from typing import Any

from fakeserver import FakeOpenAI

__all__ = ["WINDOW", "assert_not_sent", "leaked", "random_text", "sent_text"]

WINDOW = 10


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def sent_text(fake: FakeOpenAI) -> str:
    parts: list[str] = []
    for req in list(fake.requests):
        parts.append(req.text)
        parts.extend(_strings(req.body))
    return "\n".join(parts)


def leaked(secret: str, text: str, size: int = WINDOW) -> list[str]:
    if len(secret) <= size:
        return [secret] if secret in text else []
    return [secret[i : i + size] for i in range(len(secret) - size + 1) if secret[i : i + size] in text]


def assert_not_sent(fake: FakeOpenAI, named: Mapping[str, str], size: int = WINDOW) -> None:
    """No `size`-character window of any secret in `named` (shape -> secret) reached the server."""
    text = sent_text(fake)
    found = {shape: leaked(secret, text, size)[:2] for shape, secret in named.items()}
    assert not {k: v for k, v in found.items() if v}, f"secret windows reached the server: {found}"


def random_text(n: int, alphabet: str = string.ascii_letters + string.digits, *, must: str = "") -> str:
    """A run-time secret of `n` characters from `alphabet`, with the characters of `must` mixed in."""
    rng = secrets.SystemRandom()
    while True:
        chars = [rng.choice(alphabet) for _ in range(n - len(must))] + list(must)
        rng.shuffle(chars)
        value = "".join(chars)
        if value[0] not in "-$" and (alphabet != string.ascii_letters + string.digits or not value.isalpha()):
            return value
