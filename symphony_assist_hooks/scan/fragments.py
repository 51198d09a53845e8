"""Pieces of secrets already found: what is left of a secret after something shortened or split it.

pytest shows long values cut in the middle (`'ghp_Hj6j72QT...N10RigS3qdAeW'`), a normaliser may replace a
digit run inside a token, a trimmer may cut through one: no rule matches the head or the tail left over,
yet together they give away most of the secret. So wherever the FULL text is still available (the pytest
plugin, in the process that ran the test: the exception, the failing frames' locals, the sources), its
secrets are found with the rules (`secret_values`), and every text sent afterwards is cleaned of every
piece of them of `GRAM` characters or more (`FragmentScrubber`): a sliding window over the text, one keyed
hash per position, so the cost is linear in the text and the secrets themselves never travel (only the
keyed digests of their pieces do, from a pytest-xdist worker to the controller).

A run of matched positions is replaced by `[REDACTED:secret-fragment]`, newlines kept. A run made only of
letters and shorter than `WORD` is kept: it is a word (`github` of a `github_pat_…` token) far more often
than a leak, and it gives away less than the 10 characters a secret's piece needs to be recognised.

Stdlib only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .redact import find_secrets

__all__ = ["GRAM", "FragmentScrubber", "digests", "secret_values"]

GRAM = 6  # the shortest piece of a secret that is redacted
MIN_SECRET = 8  # shorter secrets are left to the rules: their pieces would match ordinary words
WORD = 10  # a letters-only run shorter than this is a word, not a leak
MAX_TEXT = 200_000  # characters of one text scanned for secrets (a huge local is cut, not skipped)
MAX_TOTAL = 2_000_000  # characters scanned per call: a failure's locals stay a few hundred ms at worst
MAX_DIGESTS = 100_000
PLACEHOLDER = "[REDACTED:secret-fragment]"


def secret_values(texts: Iterable[str]) -> set[str]:
    """The secrets the rules find in `texts`, each text scanned on its own (its own context)."""
    found: set[str] = set()
    budget = MAX_TOTAL
    for whole in texts:
        if budget <= 0:
            break
        text = whole[: min(MAX_TEXT, budget)]
        budget -= len(text)
        for m in find_secrets(text):
            value = text[m.start : m.end].strip()
            if len(value) >= MIN_SECRET:
                found.add(value)
    return found


def _digest(gram: str, key: bytes) -> bytes:
    return hashlib.blake2b(gram.encode("utf-8", "surrogatepass"), digest_size=8, key=key).digest()


def digests(values: Iterable[str], key: bytes) -> set[bytes]:
    """The keyed digests of every `GRAM`-character piece of `values` (at most `MAX_DIGESTS`)."""
    out: set[bytes] = set()
    for value in sorted(values, key=len):  # over the cap, the short secrets are kept whole
        for i in range(len(value) - GRAM + 1):
            if len(out) >= MAX_DIGESTS:
                return out
            out.add(_digest(value[i : i + GRAM], key))
    return out


class FragmentScrubber:
    """`scrub(text)`: `text` with every piece of the secrets behind `known` (keyed by `key`) redacted."""

    def __init__(self, known: Iterable[bytes], key: bytes) -> None:
        self.known = frozenset(known)
        self.key = key

    def __bool__(self) -> bool:
        return bool(self.known)

    def __call__(self, text: str) -> str:
        if not self.known or len(text) < GRAM:
            return text
        known, key = self.known, self.key
        runs: list[list[int]] = []  # [start, end) of matched positions, merged
        for i in range(len(text) - GRAM + 1):
            if _digest(text[i : i + GRAM], key) in known:
                if runs and i <= runs[-1][1]:
                    runs[-1][1] = i + GRAM
                else:
                    runs.append([i, i + GRAM])
        if not runs:
            return text
        out: list[str] = []
        pos = 0
        for start, end in runs:
            piece = text[start:end]
            if len(piece) < WORD and piece.isascii() and piece.isalpha():
                continue  # a word, see the module's docstring
            out.append(text[pos:start])
            out.append(PLACEHOLDER + "\n" * piece.count("\n"))
            pos = end
        out.append(text[pos:])
        return "".join(out)
