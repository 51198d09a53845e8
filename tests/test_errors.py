"""The typed fallback reason: the line shown and the exit code travel together (no text parsing)."""

from __future__ import annotations

from symphony_assist_hooks.errors import (
    EXIT_BUDGET,
    EXIT_NO_KEY,
    EXIT_PROVIDER,
    EXIT_SECRET_SCAN,
    NO_ANSWER,
    BudgetError,
    FallbackReason,
    NoKeyError,
    SecretScanError,
    UnavailableError,
)


def test_a_reason_carries_the_exit_code_of_the_error_it_came_from() -> None:
    cases = [
        (NoKeyError("no key here"), EXIT_NO_KEY),
        (BudgetError("monthly cap reached"), EXIT_BUDGET),
        (UnavailableError("service unavailable"), EXIT_PROVIDER),
        (SecretScanError("secret scan failed"), EXIT_SECRET_SCAN),
    ]
    for exc, code in cases:
        reason = FallbackReason.of(exc)
        assert reason == str(exc)  # it is the line shown
        assert reason.exit_code == code


def test_the_code_does_not_depend_on_the_words() -> None:
    # The text that used to be parsed ("no API key" -> 3, "budget..." -> 5) decides nothing now.
    assert FallbackReason("budget: no API key mentioned").exit_code == EXIT_PROVIDER
    assert FallbackReason("anything", EXIT_NO_KEY).exit_code == EXIT_NO_KEY
    assert NO_ANSWER.exit_code == EXIT_PROVIDER
