"""Use case: failing tests → one item each → explanations (API, cache or the local classifier).

Each failure becomes one `Item` whose content is what a reviewer needs and nothing that changes between
runs: volatile text (memory addresses, pytest's numbered tmp dirs, durations, object ids, PIDs,
ephemeral ports, the absolute project root, xdist worker lines) is normalised in the traceback and the
assertion message, never in the source code, so the same failure hits the cache on the next run and a
changed test or code under test misses it. Line numbers are left out too (frame locations, the code
under test's header), as the review's hunks are sent with local line numbers: a failure that only moved
(an edit above it in the file) is still a hit, while the code lines themselves stay in. Values of
secret-named environment variables are replaced and the secret rules run before anything is normalised
or trimmed (the core then redacts the content once more).

The context of an item is trimmed to `item_tokens` in this order of value: the assertion introspection
(its start), the end of the traceback, the code under test, the test source. All failures of a run go
to `Assistant.ask` as one request; the core packs them into as few API calls as its token limit allows
and caches each failure's answer on its own.

Stdlib and our own records only at module level: the pytest plugin imports this on failures alone, and
the core (openai, pydantic, jinja2) is imported by `Assistant` only on a cache miss.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..assistant import Assistant
from ..assistant.request import Item, Request
from ..errors import SymphonyError
from ..explainers import TestingAnalyzer
from ..findings import Explanation, Failure, Report
from ..scan.redact import redact, redact_env_values

if TYPE_CHECKING:
    from ..assistant import Assistant
    from ..assistant.request import Item
    from ..config import Settings
    from ..progress import ProgressCallback

__all__ = [
    "ITEM_TOKENS",
    "Explained",
    "Group",
    "explain_failures",
    "failure_content",
    "group_failures",
    "group_keys",
    "local_explanation",
    "normalize",
    "suspect_diffs",
    "suspect_sources",
]

ITEM_TOKENS = 1500  # context per failure; ~3,600 characters at the core's 2.4 chars/token estimate
_CHARS_PER_TOKEN = 2.4
FRAME = "explain"


# ------------------------------------------------------------------------------------- normalising
_TMP_PYTEST = re.compile(r"(?:[A-Za-z]:)?[\w./\\~-]*?[/\\]pytest-of-[^/\\\s'\"]+[/\\]pytest-\d+(?=[/\\\s'\")]|$)")
_TMP_MKDTEMP = re.compile(r"(?:[A-Za-z]:)?[\w./\\~-]*?[/\\]tmp[a-z0-9_]{8}(?=[/\\\s'\")]|$)")
_SITE_PACKAGES = re.compile(r"(?:[A-Za-z]:)?[\w./\\~+-]*?[/\\](?=(?:site|dist)-packages[/\\])")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{9,16}\b|(?<=\bat )0x[0-9a-fA-F]+\b")
_PID = re.compile(r"\b(pid|PID|tid|process|Process|thread|Thread)([=:]\s?|\s)\d+\b")
_PORT = re.compile(r"(\b127\.0\.0\.1:|\blocalhost:|\b0\.0\.0\.0:|\[::1?\]:|\bport[=:]\s?|\bport )\d{5}\b")
_BIG_NUMBER = re.compile(r"\b\d{13,19}\b")  # object ids, epoch milli/nanoseconds
_DURATION = re.compile(
    r"\b\d+\.\d+\s?(?:s|ms|us|µs|ns|sec|secs|seconds|milliseconds)\b"
    r"|(?<=\bin )\d+\s?(?:s|ms|us|µs|ns|sec|secs|seconds|milliseconds)\b"
)
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_XDIST_WORKER = re.compile(r"^\[gw\d+\] .*? -- Python .*\n?", re.MULTILINE)
_FRAME_LINE = re.compile(r"^(\S[^\n]*?\.py):\d+:(?= )", re.MULTILINE)  # `calc.py:12: in add`
_CODE_HEADER = re.compile(r"^(# \S+?):\d+ (?=\()", re.MULTILINE)  # `# calc.py:3 (add)`


def normalize(text: str, root: str | None = None, volatile: Sequence[str] = ()) -> str:
    """`text` with what changes from run to run replaced by a fixed placeholder.

    Meant for tracebacks and messages only: source code is sent as it is (a changed constant must miss
    the cache). `volatile` paths (a --basetemp) become `<tmp>`; `root` (the project's root directory) is
    stripped, so paths become project-relative.
    """
    text = _XDIST_WORKER.sub("", text)
    for path in sorted(filter(None, volatile), key=len, reverse=True):
        text = text.replace(path.rstrip("/\\"), "<tmp>")
    if root:
        for prefix in {root.rstrip("/\\") + "/", root.rstrip("/\\") + "\\"}:
            text = text.replace(prefix, "")
    text = _TMP_PYTEST.sub("<tmp>", text)
    text = _TMP_MKDTEMP.sub("<tmp>", text)
    text = _SITE_PACKAGES.sub("", text)
    text = _TIMESTAMP.sub("<time>", text)
    text = _ADDRESS.sub("0x…", text)
    text = _PID.sub(lambda m: f"{m[1]}{m[2]}…", text)
    text = _PORT.sub(r"\1<port>", text)
    text = _BIG_NUMBER.sub("<n>", text)
    return _DURATION.sub("<duration>", text)


# -------------------------------------------------------------------------------------- trimming
def _keep_head(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    kept = text[: cut if cut > limit // 2 else limit]
    return f"{kept}\n… ({text.count(chr(10), len(kept)) + 1} more lines cut)"


def _keep_tail(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    start = len(text) - limit
    nl = text.find("\n", start)
    kept = text[nl + 1 if 0 <= nl < start + limit // 2 else start :]
    return f"… ({text.count(chr(10), 0, len(text) - len(kept)) + 1} earlier lines cut)\n{kept}"


def _split_introspection(longrepr: str) -> tuple[str, str]:
    """(traceback, assertion introspection): the trailing block of pytest's `E   ` lines."""
    lines = longrepr.rstrip("\n").split("\n")
    end = len(lines)
    while end > 0 and not lines[end - 1].startswith("E "):
        end -= 1  # a trailing location line such as `test_x.py:12: AssertionError`
    start = end
    while start > 0 and lines[start - 1].startswith("E "):
        start -= 1
    if start == end:
        return longrepr.rstrip("\n"), ""
    return "\n".join(lines[:start] + lines[end:]), "\n".join(lines[start:end])


def _allot(sizes: Sequence[int], shares: Sequence[float], total: int) -> list[int]:
    """Characters per part: each gets up to its share, then what others left over, in order."""
    given = [min(size, int(total * share)) for size, share in zip(sizes, shares, strict=True)]
    spare = total - sum(given)
    for i, size in enumerate(sizes):
        extra = min(size - given[i], max(spare, 0))
        given[i] += extra
        spare -= extra
    return given


def failure_content(
    failure: Failure,
    *,
    root: str | None = None,
    volatile: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    item_tokens: int = ITEM_TOKENS,
    scrub: Callable[[str], str] | None = None,
) -> str:
    """The text the model sees for one failure: normalised, secret env values replaced, trimmed.

    `scrub` (see `scan.fragments`) removes, from the result, the pieces of secrets found where the full
    texts were."""

    def clean(text: str) -> str:
        # redacted before it is normalised or trimmed: `<n>` in a token's digit run, or a cut through
        # it, would hide the secret from the rules that the core runs again on the item
        return redact(redact_env_values(text, environ).replace("\r\n", "\n"))[0]

    longrepr = _FRAME_LINE.sub(r"\1:", normalize(clean(failure.longrepr), root, volatile))
    traceback, introspection = _split_introspection(longrepr)
    head = [f"phase: {failure.when}"]
    if failure.exc_type:
        head.append(f"exception: {normalize(clean(failure.exc_type), root)}")
    if failure.path:
        head.append(f"file: {normalize(clean(failure.path), root)}")
    header = "\n".join(head)
    suspects = [s for s in failure.suspects if s.get("source")]
    parts = [
        introspection,
        traceback,
        clean(suspect_sources(suspects)),
        # the frame's source is the first suspect's when there is one
        "" if suspects else _CODE_HEADER.sub(r"\1 ", clean(failure.code_under_test)).strip("\n"),
        clean(failure.test_source).strip("\n"),
        clean(suspect_diffs(suspects)),
    ]
    titles = [
        "assertion / error",
        "traceback (end)",
        "suspect code in the project (>> marks the suspect lines)",
        "code under test",
        "test source",
        "recent diff of the suspect code (git diff HEAD)",
    ]
    budget = max(int(item_tokens * _CHARS_PER_TOKEN) - len(header) - 400, 400)  # titles, cut notes
    allowed = _allot([len(p) for p in parts], [0.2, 0.2, 0.3, 0.1, 0.1, 0.1], budget)
    out = [header]
    for i, (title, text) in enumerate(zip(titles, parts, strict=True)):
        if not text.strip():
            continue
        trimmed = _keep_tail(text, allowed[i]) if i == 1 else _keep_head(text, allowed[i])
        out.append(f"--- {title} ---\n{trimmed}")
    # on what is sent only (~1 µs a character): the worker that captured the failure already removed the
    # pieces of its own secrets from the full fields, before anything was normalised or cut
    return scrub("\n".join(out)) if scrub is not None else "\n".join(out)


_HUNK_NUMBERS = re.compile(r"^@@ [^@]* @@", re.MULTILINE)


def suspect_sources(suspects: Sequence[Mapping[str, Any]], context: int = 12) -> str:
    """Each suspect function as `# path (func): why`, trimmed to the lines around its suspect lines
    (marked `>>`). No line numbers: a failure that only moved still hits the cache."""
    out = []
    for s in suspects:
        lines = str(s.get("source", "")).rstrip("\n").split("\n")
        first = int(s.get("first") or 1)
        marked = {int(n) - first for n in s.get("lines") or ()}
        keep = {0} | {i for m in marked for i in range(m - context, m + 3)}
        body, gap = [], False
        for i, text in enumerate(lines):
            if i not in keep:
                if not gap:
                    body.append("   …")
                gap = True
                continue
            gap = False
            body.append((">> " if i in marked else "   ") + text)
        out.append(f"# {s.get('path', '')} ({s.get('func', '')}): {s.get('why', '')}\n" + "\n".join(body))
    return "\n\n".join(out)


def suspect_diffs(suspects: Sequence[Mapping[str, Any]]) -> str:
    """The `git diff HEAD` hunks touching the suspect functions, hunk line numbers left out."""
    out = [f"# {s.get('path', '')}\n" + _HUNK_NUMBERS.sub("@@", str(s["diff"])) for s in suspects if s.get("diff")]
    return "\n".join(out)


# ------------------------------------------------------------------------------------ local answers
def local_explanation(failure: Failure, root: str | None = None) -> dict[str, str]:
    """The offline answer for one failure: {category, explanation, fix} from the local classifier
    (`analyzers.testing`), reading project files under `root` (default: the working directory)."""
    analyzer = TestingAnalyzer(root or None)
    found = analyzer.explain(failure)
    return {"category": found.category, "explanation": found.explanation, "fix": found.fix}


def _minimal(failure: Failure) -> dict[str, str]:
    """What we can say honestly when even the local classifier failed."""
    last = next((ln for ln in failure.longrepr.splitlines() if ln.startswith("E ")), "")
    what = f"{failure.exc_type or 'an error'}" + (f" ({last[1:].strip()[:200]})" if last else "")
    return {
        "category": "collection-error" if failure.when == "collect" else "other",
        "explanation": f"The test failed during {failure.when} with {what}; no explanation was available.",
        "fix": "Read the traceback above; run again with --assist when the service is reachable.",
    }


# ------------------------------------------------------------------------------------------- use case
@dataclass(frozen=True)
class Group:
    """Failures that share a cause, explained once through their first member (`lead`)."""

    failures: tuple[Failure, ...]

    @property
    def lead(self) -> Failure:
        return self.failures[0]

    def tests(self) -> list[str]:
        """The distinct test functions, in order (parametrizations folded: `test_a[1]`, `test_a[2]` → test_a)."""
        seen: dict[str, None] = {}
        for f in self.failures:
            seen.setdefault(_test_function(f.test_id).rsplit("::", 1)[-1], None)
        return list(seen)


@dataclass(frozen=True)
class Explained:
    """A run's outcome: the report (one explanation per explained group, in order), the groups explained
    (same order) and the failures left out."""

    report: Report
    not_explained: tuple[str, ...] = ()
    groups: tuple[Group, ...] = ()


_SHAPE = re.compile(
    r"0x[0-9a-fA-F]+|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b|\d+(?:\.\d+)?"
)
_ASSERTION = {"AssertionError", "builtins.AssertionError"}


def _test_function(test_id: str) -> str:
    return test_id.split("[", 1)[0]


def _message(failure: Failure) -> str:
    return next((ln[1:].strip() for ln in failure.longrepr.splitlines() if ln.startswith("E ")), "")[:300]


def group_keys(failure: Failure) -> list[tuple[str, ...]]:
    """What a failure can share with another: its test function (all its parametrizations), its prime
    suspect (the same deepest project frame / called function), and, for an exception that is not a failed
    assertion (whose message holds the test's own values), its type and message shape (numbers and ids
    replaced)."""
    keys: list[tuple[str, ...]] = [("test", _test_function(failure.test_id), failure.when)]
    if failure.suspects:
        prime = failure.suspects[0]
        keys.append(("frame", str(prime.get("path", "")), str(prime.get("func", "")), str(prime.get("line", ""))))
    if failure.exc_type and failure.exc_type not in _ASSERTION and failure.when != "collect":
        keys.append(("exc", failure.exc_type, _SHAPE.sub("<n>", _message(failure))))
    return keys


def group_failures(failures: Sequence[Failure]) -> list[Group]:
    """Failures that share any `group_keys` key, transitively, as groups in the order of first failure."""
    parent = list(range(len(failures)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, ...], int] = {}
    for i, failure in enumerate(failures):
        for key in group_keys(failure):
            j = owner.setdefault(key, i)
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    members: dict[int, list[Failure]] = {}
    for i, failure in enumerate(failures):
        members.setdefault(find(i), []).append(failure)
    return [Group(tuple(m)) for m in members.values()]


def explain_failures(
    failures: Sequence[Failure],
    settings: Settings,
    *,
    template: str = "testing",
    max_failures: int = 5,
    root: str | None = None,
    volatile: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    item_tokens: int = ITEM_TOKENS,
    assistant: Assistant | None = None,
    warn: Callable[[str], None] | None = None,
    progress: ProgressCallback | None = None,
    scrub: Callable[[str], str] | None = None,
) -> Explained:
    """Group the failures (`group_failures`), explain the first `max_failures` groups through their first
    failure in one `Assistant.ask`; list the failures of the other groups as not explained.

    `scrub` is applied to everything sent (each field of a failure and its id): the pytest plugin's
    redaction of the pieces of the session's secrets (`scan.fragments`).

    Never raises for a service fault: no key, budget refused, offline or a down service give local
    answers (source "local") and `report.fallback_reason`. Configuration errors (an unknown template),
    a failed secret scan and faults inside the assistant do the same, with their message as the reason.
    """

    groups = group_failures(failures)
    explained = tuple(groups[: max(max_failures, 0)])
    chosen = [g.lead for g in explained]
    left_out = tuple(_display_id(f) for g in groups[len(explained) :] for f in g.failures)
    rest = len(groups) - len(explained)
    by_id = {f"f{i}": f for i, f in enumerate(chosen, 1)}
    own = assistant is None
    asst = assistant if assistant is not None else Assistant(settings, warn=warn, progress=progress)
    notices: list[str] = []
    try:
        items: list[Item] = []
        reason: str | None = None
        try:
            for item_id, failure in by_id.items():
                content = failure_content(
                    failure, root=root, volatile=volatile, environ=environ, item_tokens=item_tokens, scrub=scrub
                )
                label = redact(failure.test_id)[0]
                items.append(Item(item_id, content, normalize(scrub(label) if scrub else label, root)))
        except SymphonyError as exc:  # SecretScanError: nothing may be sent
            reason = str(exc)
        except Exception as exc:  # a bug while preparing: fail closed, answer locally
            reason = f"could not prepare the failures ({type(exc).__name__}: {exc}); nothing was sent"

        def fallback(pairs: Sequence[tuple[Item, str]], why: str) -> dict[tuple[str, str], dict[str, Any]]:
            return {(it.id, name): _local(by_id[it.id], root, notices) for it, name in pairs}

        if reason is None and items:
            try:
                resp = asst.ask(Request(frame=FRAME, templates=(template,), items=tuple(items)), fallback)
            except SymphonyError as exc:  # an unknown template, a bad setting
                reason = str(exc)
            except Exception as exc:  # a fault in the core must not cost the local answers
                reason = f"assistant failed ({type(exc).__name__}: {exc})"
        if reason is not None or not items:
            return _all_local(by_id, reason or "", root, (left_out, rest, explained), max_failures, notices)
        explanations = []
        for item_id, failure in by_id.items():
            result = resp.results.get((item_id, template))
            data = result.data if result is not None else None
            source = result.source if result is not None and data is not None else "local"
            if data is None or source not in ("api", "cache", "local"):
                data, source = _local(failure, root, notices), "local"
            explanations.append(_explanation(failure, data, source))
        report = Report(
            kind="pytest",
            explanations=tuple(explanations),
            local_answers=sum(e.source == "local" for e in explanations),
            notices=tuple(resp.notices) + tuple(notices),
            **resp.usage(),
        )
        return _with_left_out(report, (left_out, rest, explained), max_failures)
    finally:
        if own:
            asst.close()


def _local(failure: Failure, root: str | None, notices: list[str]) -> dict[str, Any]:
    try:
        return dict(local_explanation(failure, root))
    except Exception as exc:  # the local classifier must never cost the run its summary
        message = f"local classifier failed ({type(exc).__name__}): minimal answers given"
        if message not in notices:
            notices.append(message)
        return _minimal(failure)


def _all_local(
    by_id: Mapping[str, Failure],
    reason: str,
    root: str | None,
    left_out: tuple[tuple[str, ...], int, tuple[Group, ...]],
    max_failures: int,
    notices: list[str],
) -> Explained:
    explanations = tuple(_explanation(f, _local(f, root, notices), "local") for f in by_id.values())
    report = Report(
        kind="pytest",
        explanations=explanations,
        local_answers=len(explanations),
        fallback_reason=reason or None,
        notices=tuple(notices),
    )
    return _with_left_out(report, left_out, max_failures)


def _with_left_out(
    report: Report, left_out: tuple[tuple[str, ...], int, tuple[Group, ...]], max_failures: int
) -> Explained:
    ids, rest, groups = left_out
    if not ids:
        return Explained(report, groups=groups)
    key = f"not explained, in {rest} more group(s) (--assist-max-failures {max_failures} counts groups)"
    return Explained(replace(report, skipped={key: len(ids)}), ids, groups)


def _display_id(failure: Failure) -> str:
    return failure.test_id if failure.when in ("call", "collect") else f"{failure.test_id} ({failure.when})"


def _explanation(failure: Failure, data: Mapping[str, Any], source: str) -> Explanation:
    return Explanation(
        test_id=_display_id(failure),
        category=str(data.get("category") or "other"),
        explanation=str(data.get("explanation") or ""),
        fix=str(data.get("fix") or ""),
        source=source,
        path=failure.path,
        line=failure.line,
    )
