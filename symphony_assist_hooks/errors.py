"""The exception tree and the exit codes: one place decides how an error ends a process.

```
SymphonyError                      every error we raise on purpose; .exit_code, one-line str()
├── UsageError          (exit 2)   a bad flag, argument or configuration value
│   └── ConfigError     (exit 2)   ...naming where the value came from and what is allowed
├── GitError            (exit 2)   not a git work tree, a bad revision, git missing
├── NoKeyError          (exit 3)   no API key configured for a command that needs the service
├── ProviderError       (exit 4)   the service could not answer
│   ├── AuthError                  every configured key was rejected (401/403)
│   ├── QuotaError                 insufficient_quota on every configured key
│   ├── ModelError                 404 model, context length: fallback model tried too
│   ├── BadAnswerError             invalid JSON, refusal, truncated answer
│   └── UnavailableError           retries exhausted: 429/5xx/timeouts/connection refused
├── BudgetError         (exit 5)   a cap (run, day, month) refuses the reservation
└── SecretScanError     (exit 6)   the secret scan failed: nothing was sent
```

Expected failures are printed as one line by `cli.main` (no traceback). Messages never contain an
API key: keys live in `config.Secret`, whose str() and repr() are masked.
"""

from __future__ import annotations

from collections.abc import Callable

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_NO_KEY = 3
EXIT_PROVIDER = 4
EXIT_BUDGET = 5
EXIT_SECRET_SCAN = 6
EXIT_INTERRUPTED = 130

__all__ = [
    "EXIT_BUDGET",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_NO_KEY",
    "EXIT_OK",
    "EXIT_PROVIDER",
    "EXIT_SECRET_SCAN",
    "EXIT_USAGE",
    "NO_ANSWER",
    "NO_KEY",
    "OFFLINE",
    "STANDING_REASONS",
    "AuthError",
    "BadAnswerError",
    "BudgetError",
    "ConfigError",
    "FallbackReason",
    "GitError",
    "ModelError",
    "NoKeyError",
    "ProviderError",
    "QuotaError",
    "SecretScanError",
    "SymphonyError",
    "UnavailableError",
    "UsageError",
    "Warn",
]

# How the core reports a problem it survived (a fallback, a skipped write): one line, shown by the adapter.
Warn = Callable[[str], None]


class SymphonyError(Exception):
    """Base of every error raised on purpose. str() is one line meant for the user."""

    exit_code = EXIT_USAGE
    attempts = 0  # a provider's error: the HTTP requests it tried before giving up (failed ones too)


class UsageError(SymphonyError):
    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A configuration value is wrong.

    `source` names where it came from ("--max-cost", "SYMPHONY_ASSIST_TIMEOUT",
    "pyproject.toml [tool.symphony-assist] timeout"); `allowed` says what would be accepted.
    """

    def __init__(self, name: str, value: object, source: str, allowed: str) -> None:
        self.name = name
        self.value = value
        self.source = source
        self.allowed = allowed
        super().__init__(f"invalid value {value!r} for {name} (from {source}): expected {allowed}")


class GitError(SymphonyError):
    exit_code = EXIT_USAGE


class NoKeyError(SymphonyError):
    exit_code = EXIT_NO_KEY


class ProviderError(SymphonyError):
    exit_code = EXIT_PROVIDER


class AuthError(ProviderError):
    pass


class QuotaError(ProviderError):
    pass


class ModelError(ProviderError):
    pass


class BadAnswerError(ProviderError):
    pass


class UnavailableError(ProviderError):
    pass


class BudgetError(SymphonyError):
    exit_code = EXIT_BUDGET


class SecretScanError(SymphonyError):
    exit_code = EXIT_SECRET_SCAN


class FallbackReason(str):
    """Why a run's unanswered items fell back to the local answers: the one line shown to the user (it is
    the string itself), and the exit code of a command that needed the model (`query`, `review
    --fail-closed`). Typed, so that no caller parses the text to decide the exit code."""

    exit_code: int

    def __new__(cls, text: str, exit_code: int = EXIT_PROVIDER) -> FallbackReason:
        reason = super().__new__(cls, text)
        reason.exit_code = exit_code
        return reason

    @classmethod
    def of(cls, exc: SymphonyError) -> FallbackReason:
        """The reason an error gives, with its exit code (NoKeyError 3, ProviderError 4, BudgetError 5...)."""
        return cls(str(exc), exc.exit_code)


NO_ANSWER = FallbackReason("the service did not answer")
OFFLINE = FallbackReason("offline (--offline or SYMPHONY_ASSIST_OFFLINE): no request is made")
NO_KEY = FallbackReason("offline: no API key configured", EXIT_NO_KEY)
# Reasons the settings alone decide (a flag, a variable's presence): the same inputs fall back the same way
# every time, so such a run may be replayed (review/recorder.py); a budget, a halt or a fault may not.
STANDING_REASONS = frozenset({OFFLINE, NO_KEY})
