"""Use case: changes → hunks → one batched request per token budget → findings on changed lines.

Each hunk is one cache item, sent with hunk-local line numbers (L1, L2, …) so a hunk that only moved
is a cache hit; findings come back relative to the hunk and are mapped to absolute lines here. A
finding that does not point at a line of its own hunk is dropped and counted (hallucinated or
injected locations never reach an annotation).

Secrets in added lines are always reported locally (rule `secret`, critical) when the security
template runs, with or without a network (scans.py); an added or changed secret file (`.env`, a
private key, a credentials file: scan/sensitive.py) is a critical `secret-file` finding whatever the
templates, and its content is never read into the review. The local analyzers run on every reviewed hunk,
with or without a key (local.py, remembered per file); the model's findings are added to theirs and the
two are merged (merge.py): a model cannot remove a finding, only the user can (baseline, inline
suppression, --fail-on). Hunks whose added lines are only comments or whitespace are not sent to the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..assistant import Assistant
from ..assistant.request import Item, Request, Response
from ..config import Settings
from ..findings import Finding, Report, Severity, fingerprint
from ..git import changes as git
from ..plugins import get_plugin_manager, has_third_party_plugins, registered
from .baseline import apply_suppressions
from .local import Changed, analyze
from .merge import known_line, merge_findings
from .scans import injection_findings, scan_hunks, secret_file_findings, secret_findings

if TYPE_CHECKING:
    from ..progress import ProgressCallback

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


def _targets(changes: git.Changes, hunks: Sequence[git.Hunk], files: _Files) -> list[Changed]:
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
        targets.append(Changed(path=fd.path, text=text, changed_lines=frozenset(lines[fd.path]), language=fd.language))
    return targets


def _local_review(
    templates: Sequence[str], targets: Sequence[Changed], notices: list[str], memo: Any = None
) -> list[Finding]:
    found, more = analyze(templates, targets, memo, _plugin_analyzers())
    notices.extend(more)
    return [f for f in found if f.rule != "secret"]  # secrets come from the scan (scans.py), redacted


def _telling(item: Item, hunk: git.Hunk, local: Sequence[Finding]) -> Item:
    """`item` with the local findings on its hunk in one line after it, so the model does not repeat them."""
    known = known_line(hunk, local)
    return Item(item.id, f"{item.content}\n{known}", item.label) if known else item


def _plugin_analyzers() -> dict[str, Any]:
    if not has_third_party_plugins():
        return {}

    return {str(args[0]): args[1] for args in registered("register_analyzers")}


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
    findings: list[Finding] = secret_file_findings(changes.omitted)  # whatever the templates: never sent
    scans = scan_hunks(all_hunks, assistant.scans)
    if "security" in opts.templates:
        findings += secret_findings(all_hunks, scans)
    # a hunk that tries to instruct the model needs no special path: the analyzers check every hunk
    injected, _ = injection_findings(all_hunks, scans, opts.templates[0] if opts.templates else "security")
    findings += injected
    if all_hunks:  # the floor: every reviewed hunk, key or not; the model only adds (#18)
        targets = _targets(changes, all_hunks, files)
        findings += _local_review(opts.templates, targets, notices, assistant.scans)

    items = [_telling(it, collected.hunks[it.id], findings) for it in collected.items]

    def fallback(pairs: Sequence[tuple[Item, str]], reason: str) -> dict[tuple[str, str], dict[str, Any]]:
        return {(it.id, t): {"findings": [], "local": True} for it, t in pairs}  # analyzed above already

    resp = Response()
    try:
        if items:
            request = Request(
                frame="findings",
                templates=tuple(opts.templates),
                items=tuple(items),
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

    findings = merge_findings(findings)
    findings = _plugin_process(findings)
    suppressed = 0
    if findings:
        findings, suppressed = _suppress(findings, opts.baseline, files)
    local_answers = len({r.item_id for r in resp.results.values() if r.source in ("local", "none")})
    usage = resp.usage()
    usage["dropped"] += counters["dropped"]  # dropped by validation (schema) + dropped here (not in the hunk)
    return Report(
        kind="review",
        findings=tuple(findings),
        hunks=len(collected.items) + len(collected.trivial),
        files=len(changes.files),
        local_answers=local_answers,
        suppressed=suppressed,
        skipped=dict(changes.skipped),
        notices=tuple(dict.fromkeys(notices + resp.notices)),
        **usage,
    )


def _plugin_process(findings: list[Finding]) -> list[Finding]:
    if not has_third_party_plugins():
        return findings

    for result in get_plugin_manager().hook.process_findings(findings=findings):
        if result is not None:
            findings = list(result)
    return findings


def _suppress(findings: list[Finding], baseline: Path | None, files: _Files) -> tuple[list[Finding], int]:
    texts = {p: (t.splitlines() if t else []) for p, t in files.get([f.path for f in findings]).items()}

    def line_at(path: str, line: int) -> str:
        lines = texts.get(path, [])
        return lines[line - 1] if 0 < line <= len(lines) else ""

    kept, suppressed = apply_suppressions(findings, baseline, line_at)
    return list(kept), suppressed
