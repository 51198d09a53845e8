"""The local scans of a review: secrets and prompt-injection attempts on each hunk's added lines.

Each hunk's result is remembered in this machine's scan memo (hunk-local lines, keyed by the hunk's
position-independent text and the rules' versions), so a repeat run compiles and runs no scanner; the
findings are reported locally (rule `secret`, critical; rule `prompt-injection`, medium) whatever the
model answers, and nothing scanned is ever sent unredacted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..assistant import content_hash
from ..findings import Finding, Severity, fingerprint
from ..git import changes as git
from ..scan.policy import INJECTION_POLICY_VERSION, REDACTION_POLICY_VERSION

if TYPE_CHECKING:
    from ..assistant.cache import Cache

__all__ = ["HunkScan", "injection_findings", "scan_hunks", "secret_file_findings", "secret_findings"]


@dataclass(frozen=True)
class HunkScan:
    """What the local scanners found on one hunk's added lines (new-file line numbers)."""

    secrets: tuple[tuple[int, str], ...]  # (line, kind), reportable ones only
    attempts: tuple[tuple[int, str, str], ...]  # (line, kind, excerpt) of prompt-injection attempts


def scan_hunks(hunks: Sequence[git.Hunk], memo: Cache | None) -> list[HunkScan]:
    """Secrets and injection attempts on every hunk's added lines.

    Remembered per hunk (hunk-local lines, keyed by the hunk's position-independent text and the
    rules' versions) in this machine's scan memo, so a repeat run compiles and runs no scanner.
    """

    out: list[HunkScan] = []
    for h in hunks:
        key = content_hash(
            f"review-scan\0{REDACTION_POLICY_VERSION}\0{INJECTION_POLICY_VERSION}\0{h.path}\0{h.local_text()}"
        )
        known = memo.get(key) if memo is not None else None
        if known is not None and isinstance(known.get("s"), list) and isinstance(known.get("a"), list):
            try:
                secrets = tuple((_absolute(h, int(n)), str(k)) for n, k in known["s"])
                attempts = tuple((_absolute(h, int(n)), str(k), str(e)) for n, k, e in known["a"])
                out.append(HunkScan(secrets, attempts))
                continue
            except (TypeError, ValueError):
                pass  # a damaged memo entry: scan again
        scan = scan_hunk(h)
        out.append(scan)
        if memo is not None:
            memo.set(key, {
                "s": [[h.to_local(n), k] for n, k in scan.secrets],
                "a": [[h.to_local(n), k, e] for n, k, e in scan.attempts],
            })  # fmt: skip
    return out


def _absolute(hunk: git.Hunk, local: int) -> int:
    line = hunk.to_absolute(local)
    if line is None:
        raise ValueError(local)
    return line


def scan_hunk(h: git.Hunk) -> HunkScan:
    # deferred: a cached review reads the scans from the cache; the rules cost ~18 ms of imports
    from ..scan.injection import find_attempts
    from ..scan.redact import find_secrets, reportable

    secrets: list[tuple[int, str]] = []
    attempts: list[tuple[int, str, str]] = []
    for ln in h.lines:
        if ln.kind != "+" or ln.new_no is None:
            continue
        secrets += [(ln.new_no, m.kind) for m in find_secrets(ln.text) if reportable(m.kind, h.path)]
        attempts += [(ln.new_no, a.kind, a.excerpt) for a in find_attempts(ln.text)]
    return HunkScan(tuple(secrets), tuple(attempts))


def secret_findings(hunks: Sequence[git.Hunk], scans: Sequence[HunkScan]) -> list[Finding]:
    """Hard-coded secrets on added lines: found locally, reported without ever sending them."""
    out = []
    for h, scan in zip(hunks, scans, strict=True):
        for line, kind in scan.secrets:
            out.append(
                Finding(
                    path=h.path,
                    line=line,
                    end_line=line,
                    severity=Severity.CRITICAL,
                    rule="secret",
                    title=f"hard-coded secret ({kind})",
                    message="A credential is committed in this line: whoever can read the repository can use it.",
                    suggestion="Remove it, rotate it, and load it from the environment or a secret store.",
                    source="local",
                    template="security",
                    fingerprint=fingerprint(h.path, "secret", kind),
                )
            )
    return out


def secret_file_findings(omitted: Sequence[tuple[str, str]]) -> list[Finding]:
    """Files withheld as sensitive (`.env`, private keys, credential files: sensitive.py) that are
    added or changed: committing one publishes what it holds. Their content was never read into the
    review, so nothing of it was sent; the finding names the file only."""
    out = []
    for path, reason in omitted:
        if reason != "sensitive":
            continue
        out.append(
            Finding(
                path=path,
                line=1,
                end_line=1,
                severity=Severity.CRITICAL,
                rule="secret-file",
                title="secret file committed (key material or credentials)",
                message="Files of this kind hold keys or credentials. Its content was not read into the review "
                "and nothing of it was sent; committing it publishes it to whoever can read the repository.",
                suggestion="Unstage it (`git rm --cached <file>`), list it in .gitignore and rotate what it holds "
                "if it was ever pushed; a template with placeholder values belongs in e.g. `.env.example`.",
                source="local",
                template="security",
                fingerprint=fingerprint(path, "secret-file", path),
            )
        )
    return out


def injection_findings(
    hunks: Sequence[git.Hunk], scans: Sequence[HunkScan], template: str
) -> tuple[list[Finding], list[git.Hunk]]:
    """Prompt-injection attempts on added lines, and the hunks that carry them (see injection.py)."""
    out: list[Finding] = []
    flagged: list[git.Hunk] = []
    for h, scan in zip(hunks, scans, strict=True):
        texts = {ln.new_no: ln.text for ln in h.lines if ln.new_no is not None}
        for line, kind, excerpt in scan.attempts:
            out.append(
                Finding(
                    path=h.path,
                    line=line,
                    end_line=line,
                    severity=Severity.MEDIUM,
                    rule="prompt-injection",
                    title=f"text addressed to an AI reviewer ({kind})",
                    message=f"This line tries to instruct the reviewing model: {excerpt!r}. The model's "
                    "answer for this hunk is not trusted on its own: the local analyzers checked it too.",
                    suggestion="Remove the instruction, or confirm it is intended (e.g. test data).",
                    source="local",
                    template=template,
                    fingerprint=fingerprint(h.path, "prompt-injection", texts.get(line, "")),
                )
            )
        if scan.attempts:
            flagged.append(h)
    return out, flagged
