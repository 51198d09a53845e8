"""Pieces of secrets (scan/fragments.py): what pytest's shortened reprs and trimming leave of a secret.

Secrets are generated at run time (tests/fake_secrets.py); FAKE_SECRETS_SEED replays a failure.
"""

from __future__ import annotations

import os
import random

import pytest
from fake_secrets import make

from symphony_assist_hooks.scan.fragments import GRAM, PLACEHOLDER, FragmentScrubber, digests, secret_values

pytestmark = pytest.mark.hardening_hostile_input

SEED = int(os.environ.get("FAKE_SECRETS_SEED", random.SystemRandom().randrange(2**32)))
KINDS = ("github-pat-classic", "slack-bot", "stripe-live", "aws-secret-access-key", "openai-project", "jwt")


def _windows(value: str, text: str, size: int = GRAM) -> list[str]:
    return [value[i : i + size] for i in range(len(value) - size + 1) if value[i : i + size] in text]


@pytest.mark.parametrize("kind", KINDS)
def test_the_head_and_tail_of_a_shortened_token_are_redacted(kind: str) -> None:
    token = make(kind, random.Random(f"{SEED}-{kind}")).secrets[0]
    key = os.urandom(16)
    values = secret_values([f"tok = {token!r}"])
    assert token in values, f"FAKE_SECRETS_SEED={SEED}"
    scrub = FragmentScrubber(digests(values, key), key)
    shown = f"E   AssertionError: assert '{token[:12]}...{token[-13:]}' == 'expected'\nE   - expected"
    out = scrub(shown)
    assert not _windows(token, out), f"{kind}: pieces left in {out!r} (FAKE_SECRETS_SEED={SEED})"
    assert out.startswith("E   AssertionError: assert '") and out.endswith("' == 'expected'\nE   - expected")
    assert scrub(token) == PLACEHOLDER


def test_digests_are_keyed_and_a_wrong_key_matches_nothing() -> None:
    token = make("github-pat-classic", random.Random(SEED)).secrets[0]
    known = digests({token}, b"k" * 16)
    assert FragmentScrubber(known, b"k" * 16)(token) == PLACEHOLDER
    assert FragmentScrubber(known, b"x" * 16)(token) == token  # another session's digests
    assert all(len(d) == 8 for d in known) and token.encode() not in b"".join(known)


def test_words_and_unrelated_text_are_kept() -> None:
    key = b"s" * 16
    token = "github_pat_" + "Q7wZ2kP9xL4mN8vB3cR6tY1uI5oA0sD"
    scrub = FragmentScrubber(digests({token}, key), key)
    text = "see https://github.com/org/repo: nothing secret here\n"
    assert scrub(text) == text  # `github` alone is a word, not a piece of the token
    assert scrub("test_message_github_pat_classic") == f"test_message_{PLACEHOLDER}classic"
    two_lines = f"a {token[:20]}\n{token[20:]} b"
    assert scrub(two_lines).count("\n") == 1  # line numbers after a redacted piece stay valid
    assert FragmentScrubber((), key)("anything at all") == "anything at all"


def test_short_secrets_are_left_to_the_rules() -> None:
    assert secret_values(['password = "abcd12"']) == set()  # 6 chars: its pieces would be ordinary words
