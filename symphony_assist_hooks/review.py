"""Use case: changes → hunks → one batched request per token budget → findings on changed lines.

Each hunk is one cache item, sent with hunk-local line numbers (L1, L2, …) so a hunk that only moved
is a cache hit; findings come back relative to the hunk and are mapped to absolute lines here. A
finding that does not point at a line of its own hunk is dropped and counted (hallucinated or
injected locations never reach an annotation).

Secrets in added lines are always reported locally (rule `secret`, critical) when the security
template runs, with or without a network. Hunks whose added lines are only comments or whitespace
go to the local analyzers instead of the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import git
from .assistant import Assistant, Item, Request, Response
from .config import Settings
from .findings import Finding, Report, Severity, fingerprint

if TYPE_CHECKING:
    from .assistant.cache import Cache
    from .progress import ProgressCallback

__all__ = ["ReviewOptions", "collect_changes", "review_changes"]

_TRIVIAL = re.compile(r"^\s*(?:(?:#|//|--|/\*|\*|<!--).*)?$")


@dataclass(frozen=True)
class ReviewOptions:
    source: str = "staged"  # staged | rev | all-files
    rev: str | None = None
    paths: tuple[str, ...] = ()
    templates: tuple[str, ...] = ("code_review", "security")
    use_cache: bool = True
    baseline: Path | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass
class _Hunks:
    items: list[Item] = field(default_factory=list)
    hunks: dict[str, git.Hunk] = field(default_factory=dict)
    trivial: list[git.Hunk] = field(default_factory=list)


def collect_changes(settings: Settings, opts: ReviewOptions) -> git.Changes:
    common: dict[str, Any] = {
        "context": settings.context_lines,
        "paths": opts.paths,
        "include": settings.include,
        "exclude": settings.exclude,
        "max_file_bytes": settings.max_file_bytes,
    }
    if opts.source == "rev" and opts.rev:
        return git.revision_range(opts.rev, **common)
    if opts.source == "all-files":
        return git.all_files(**common)
    return git.staged(**common)


def _hunk_items(changes: git.Changes) -> _Hunks:
    out = _Hunks()
    for fd in changes.files:
        for hunk in fd.hunks:
            added = [ln.text for ln in hunk.lines if ln.kind == "+"]
            if not added:
                continue
            if all(_TRIVIAL.match(text) for text in added):
                out.trivial.append(hunk)
                continue
            hid = f"h{len(out.hunks) + 1}"
            out.hunks[hid] = hunk
            out.items.append(Item(hid, hunk.local_text(), _one_line(fd.path)))  # the suffix names the language
    return out


_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(path: str) -> str:
    """A file name as it goes into a prompt: control and line-separator characters written as escapes,
    so a name with a newline cannot start a line of its own (a forged item header, #10)."""
    return _LINE_BREAKING.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), path)


ReadFiles = Callable[[Sequence[str]], Mapping[str, str | None]]


class _Files:
    """The content a review sees for each changed file, read at most once per run and in batches.

    The default reads what will be committed (`git.file_texts`: the index for staged changes, the
    right side of a range); the HTTP server passes a reader over the diff a client sent, so a review
    served there never reads the host's repository.
    """

    def __init__(self, changes: git.Changes, read: ReadFiles | None) -> None:
        self._read: ReadFiles = read or (lambda paths: git.file_texts(paths, changes.source))
        self._texts: dict[str, str | None] = {}

    def get(self, paths: Sequence[str]) -> dict[str, str | None]:
        missing = [p for p in dict.fromkeys(paths) if p not in self._texts]
        if missing:
            self._texts.update(self._read(missing))
        return {p: self._texts.get(p) for p in paths}


def _targets(changes: git.Changes, hunks: Sequence[git.Hunk], files: _Files) -> list[Any]:
    from .analyzers import Target

    lines: dict[str, set[int]] = {}
    for h in hunks:
        lines.setdefault(h.path, set()).update(h.added_lines)
    texts = files.get([fd.path for fd in changes.files if fd.path in lines])
    targets = []
    for fd in changes.files:
        if fd.path not in lines:
            continue
        text = texts.get(fd.path)
        if text is None:
            continue
        targets.append(Target(path=fd.path, text=text, changed_lines=frozenset(lines[fd.path]), language=fd.language))
    return targets


def _local_review(templates: Sequence[str], targets: Sequence[Any], notices: list[str]) -> list[Finding]:
    from .analyzers import run_local_review

    found, more = run_local_review(templates, targets, _plugin_analyzers())
    notices.extend(more)
    return list(found)


def _plugin_analyzers() -> dict[str, Any]:
    from .plugins import has_third_party_plugins, registered

    if not has_third_party_plugins():
        return {}

    return {str(args[0]): args[1] for args in registered("register_analyzers")}


@dataclass(frozen=True)
class _HunkScan:
    """What the local scanners found on one hunk's added lines (new-file line numbers)."""

    secrets: tuple[tuple[int, str], ...]  # (line, kind), reportable ones only
    attempts: tuple[tuple[int, str, str], ...]  # (line, kind, excerpt) of prompt-injection attempts


def _scan_hunks(hunks: Sequence[git.Hunk], memo: Cache | None) -> list[_HunkScan]:
    """Secrets and injection attempts on every hunk's added lines.

    Remembered per hunk (hunk-local lines, keyed by the hunk's position-independent text and the
    rules' versions) in this machine's scan memo, so a repeat run compiles and runs no scanner.
    """
    from .assistant import content_hash
    from .policy import INJECTION_POLICY_VERSION, REDACTION_POLICY_VERSION

    out: list[_HunkScan] = []
    for h in hunks:
        key = content_hash(
            f"review-scan\0{REDACTION_POLICY_VERSION}\0{INJECTION_POLICY_VERSION}\0{h.path}\0{h.local_text()}"
        )
        known = memo.get(key) if memo is not None else None
        if known is not None and isinstance(known.get("s"), list) and isinstance(known.get("a"), list):
            try:
                secrets = tuple((_absolute(h, int(n)), str(k)) for n, k in known["s"])
                attempts = tuple((_absolute(h, int(n)), str(k), str(e)) for n, k, e in known["a"])
                out.append(_HunkScan(secrets, attempts))
                continue
            except (TypeError, ValueError):
                pass  # a damaged memo entry: scan again
        scan = _scan_hunk(h)
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


def _scan_hunk(h: git.Hunk) -> _HunkScan:
    from .injection import find_attempts
    from .redact import find_secrets, reportable

    secrets: list[tuple[int, str]] = []
    attempts: list[tuple[int, str, str]] = []
    for ln in h.lines:
        if ln.kind != "+" or ln.new_no is None:
            continue
        secrets += [(ln.new_no, m.kind) for m in find_secrets(ln.text) if reportable(m.kind, h.path)]
        attempts += [(ln.new_no, a.kind, a.excerpt) for a in find_attempts(ln.text)]
    return _HunkScan(tuple(secrets), tuple(attempts))


def _secret_findings(hunks: Sequence[git.Hunk], scans: Sequence[_HunkScan]) -> list[Finding]:
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
                    message="A credential is committed in this line. It was redacted before anything was sent.",
                    suggestion="Remove it, rotate it, and load it from the environment or a secret store.",
                    source="local",
                    template="security",
                    fingerprint=fingerprint(h.path, "secret", kind),
                )
            )
    return out


def _injection_findings(
    hunks: Sequence[git.Hunk], scans: Sequence[_HunkScan], template: str
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


def _map_api_findings(
    data: Mapping[str, Any], hunk: git.Hunk, template: str, source: str, counters: dict[str, int]
) -> list[Finding]:
    """The findings of one answer, mapped from hunk-local to absolute lines. Never raises.

    `data` is untrusted twice over: model output (validated by assistant/schema.py) or a cache entry
    (a hit is not validated again, and `cache import` reads any file). A finding whose line is not a
    line of this hunk, or that is not a finding at all, is dropped and counted.
    """
    numbered = [ln for ln in hunk.lines if ln.kind != "-"]  # hunk-local line n is numbered[n - 1]
    raw_findings = data.get("findings", []) if isinstance(data, Mapping) else None
    if not isinstance(raw_findings, list):
        counters["dropped"] += 1
        return []
    out = []
    for raw in raw_findings:
        local, end_local = _local_lines(raw)
        if local is None or not 1 <= local <= len(numbered) or numbered[local - 1].new_no is None:
            counters["dropped"] += 1
            continue
        at = numbered[local - 1]
        line = int(at.new_no or 0)
        end = numbered[min(max(end_local, local), len(numbered)) - 1].new_no or line
        try:
            severity = Severity.parse(str(raw.get("severity", "info")))
        except ValueError:
            counters["dropped"] += 1
            continue
        rule = str(raw.get("rule") or "review")[:80]
        out.append(
            Finding(
                path=hunk.path,
                line=line,
                end_line=max(line, end),
                severity=severity,
                rule=rule,
                title=str(raw.get("title") or rule)[:300],
                message=str(raw.get("message") or ""),
                suggestion=str(raw.get("suggestion") or ""),
                source=source,
                template=template,
                fingerprint=fingerprint(hunk.path, rule, at.text),
            )
        )
    return out


def _local_lines(raw: object) -> tuple[int | None, int]:
    """(line, end_line) of a finding as whole numbers, or (None, 0) when it has no usable line."""
    if not isinstance(raw, Mapping):
        return None, 0
    try:
        local = int(raw["line"])
        end = raw.get("end_line")
        return local, int(end) if end else local
    except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        return None, 0


def _dedupe(findings: Sequence[Finding]) -> list[Finding]:
    seen: dict[tuple[str, int, str], Finding] = {}
    for f in findings:
        k = (f.path, f.line, f.rule)
        if k not in seen or f.severity.rank > seen[k].severity.rank:
            seen[k] = f
    return sorted(seen.values(), key=lambda f: (f.path, f.line, -f.severity.rank, f.rule))


def review_changes(
    settings: Settings,
    opts: ReviewOptions,
    *,
    assistant: Assistant | None = None,
    warn: Callable[[str], None] | None = None,
    changes: git.Changes | None = None,
    progress: ProgressCallback | None = None,
    read_files: ReadFiles | None = None,
) -> Report:
    """Review the changes `opts` names; never raises for a service fault (falls back locally).

    `progress` is handed to the Assistant this creates (ignored when `assistant` is given);
    `read_files` replaces how file content is read (see `_Files`).
    """
    changes = changes if changes is not None else collect_changes(settings, opts)
    files = _Files(changes, read_files)
    own = assistant is None
    assistant = assistant or Assistant(settings, warn=warn, progress=progress)
    notices: list[str] = []
    counters = {"dropped": 0}
    collected = _hunk_items(changes)
    all_hunks = list(collected.hunks.values()) + collected.trivial
    findings: list[Finding] = []
    scans = _scan_hunks(all_hunks, assistant.scans)
    if "security" in opts.templates:
        findings += _secret_findings(all_hunks, scans)
    injected, suspicious = _injection_findings(all_hunks, scans, opts.templates[0] if opts.templates else "security")
    findings += injected
    local_only = collected.trivial + suspicious  # a hunk that tries to instruct the model is also checked locally
    if local_only:
        targets = _targets(changes, local_only, files)
        findings += [f for f in _local_review(opts.templates, targets, notices) if f.rule != "secret"]

    def fallback(pairs: Sequence[tuple[Item, str]], reason: str) -> dict[tuple[str, str], dict[str, Any]]:
        hunks = [collected.hunks[it.id] for it, _ in pairs]
        templates = sorted({t for _, t in pairs})
        local = [f for f in _local_review(templates, _targets(changes, hunks, files), notices) if f.rule != "secret"]
        findings.extend(local)
        return {(it.id, t): {"findings": [], "local": True} for it, t in pairs}

    resp = Response()
    try:
        if collected.items:
            request = Request(
                frame="findings",
                templates=tuple(opts.templates),
                items=tuple(collected.items),
                model=opts.model,
                temperature=opts.temperature,
                max_tokens=opts.max_tokens,
                use_cache=opts.use_cache,
            )
            resp = assistant.ask(request, fallback)
            for (item_id, template), result in resp.results.items():
                if result.data is None or result.source == "local":
                    continue
                findings += _map_api_findings(result.data, collected.hunks[item_id], template, result.source, counters)
    finally:
        if own:
            assistant.close()

    findings = _dedupe(findings)
    findings = _plugin_process(findings)
    suppressed = 0
    if findings:
        findings, suppressed = _suppress(findings, opts.baseline, files)
    local_answers = len({r.item_id for r in resp.results.values() if r.source in ("local", "none")})
    return Report(
        kind="review",
        findings=tuple(findings),
        hunks=len(collected.items) + len(collected.trivial),
        files=len(changes.files),
        local_answers=local_answers,
        dropped=counters["dropped"],
        suppressed=suppressed,
        skipped=dict(changes.skipped),
        notices=tuple(dict.fromkeys(notices + resp.notices)),
        **resp.usage(),
    )


def _plugin_process(findings: list[Finding]) -> list[Finding]:
    from .plugins import get_plugin_manager, has_third_party_plugins

    if not has_third_party_plugins():
        return findings

    for result in get_plugin_manager().hook.process_findings(findings=findings):
        if result is not None:
            findings = list(result)
    return findings


def _suppress(findings: list[Finding], baseline: Path | None, files: _Files) -> tuple[list[Finding], int]:
    from .annotators.suppress import apply_suppressions

    texts = {p: (t.splitlines() if t else []) for p, t in files.get([f.path for f in findings]).items()}

    def line_at(path: str, line: int) -> str:
        lines = texts.get(path, [])
        return lines[line - 1] if 0 < line <= len(lines) else ""

    kept, suppressed = apply_suppressions(findings, baseline, line_at)
    return list(kept), suppressed
