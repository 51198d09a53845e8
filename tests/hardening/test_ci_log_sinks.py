"""The hostile corpus through every sink that can reach a CI log (issue 16, point 3).

Model text, an upstream error message and repository-controlled names go through each writer we
have: the output formats, the console's results, notices and errors, progress lines, the pytest
summary (`GITHUB_ACTIONS=true`, fake model answer) and its "local fallback:" line. The log is read
the way the Actions runner reads it (tests/annotators/actions_runner.py): no line may be a live
workflow command except the annotations we emit ourselves, and those must still run.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from hardening.support import HookEnv
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from responders import answering, finding, numbered_lines

from symphony_assist_hooks.annotators import emit
from symphony_assist_hooks.annotators.base import RenderContext
from symphony_assist_hooks.cli import main
from symphony_assist_hooks.findings import Explanation, Finding, Report, Severity
from symphony_assist_hooks.logsafe import clean, defuse, inert, inert_json, inert_line
from symphony_assist_hooks.plugins import annotators
from symphony_assist_hooks.progress import Tick
from symphony_assist_hooks.terminal.console import Console
from symphony_assist_hooks.terminal.progressline import Progress

sys.path.insert(0, str(Path(__file__).parent.parent / "annotators"))
from actions_runner import Command, executed, log_lines, parse
from hostile import CONTROL_CHARS, HOSTILE_LINES, LONG_LINE

pytestmark = pytest.mark.hardening_hostile_output

CORPUS = "\n".join([*HOSTILE_LINES, LONG_LINE, "\n::add-mask::X", "  ::error file=x.py::…"])
ANNOTATIONS = ("error", "warning", "notice")
TOKEN = secrets.token_hex(16)
# Repository-controlled file names (valid on Linux) that try to become commands.
HOSTILE_PATHS = ("src/##[error]a.py", "src/b\u2028::add-mask::c.py", "src/##\u200b[warning]d.py")


def assert_inert(log: str, *, ours: tuple[str, ...] = (), controls: bool = True) -> list[Command]:
    """No line of `log` is a live command, except annotations of the kinds in `ours` that we wrote at
    the start of a line. Checked twice: as the runner runs the whole log (honouring stop-commands),
    and line by line as if a pause were ignored. Returns the commands the runner would run."""
    allowed = {*ours, "stop-commands", TOKEN} if ours else set()
    commands = executed(log)
    for cmd in commands:
        assert cmd.name in allowed and not cmd.legacy, cmd
    for line in log_lines(log):
        cmd = parse(line)
        if cmd is not None:
            assert line.startswith("::") and cmd.name in allowed and not cmd.legacy, line[:200]
    if controls:
        found = CONTROL_CHARS.search(log.replace("\n", "").replace("\t", ""))
        assert found is None, repr(log[max(found.start() - 40, 0) : found.end() + 40])
    return [c for c in commands if c.name in ANNOTATIONS]


# ------------------------------------------------------------------------------------ the writer
FRAGMENTS = [
    "::", "##", "#", "[", "]", "error", "add-mask", "stop-commands", " ", "\t", "\n", "\r", "\r\n", "=",
    "\u200b", "\u200e", "\u200f", "\u061c", "\u202e", "\u2066", "\ufeff", "\u2028", "\u2029", "\x85", "\x0b",
    "\x0c", "\x1c", "\x1f", "\x00", "\x7f", "\x9b", "\x1b", "\x1b[", "\x1b[0m", "\x1b]0;t\x07", "\xa0", "\u3000",
    "%0A", "%0D", "%25", "\U000e0041", "\u00ad",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=40).map("".join))
@example("##\u200b[error]x")
@example("\u2028::add-mask::x")
@example("a\r::error::x")
def test_no_line_the_writer_produces_is_a_command(text: str) -> None:
    for out in (inert(text), inert_line(text), defuse(text)):
        assert all(parse(line) is None for line in log_lines(out)), out
    assert "\n" not in inert_line(text) and "\r" not in inert_line(text)
    assert not CONTROL_CHARS.search(inert(text).replace("\n", "").replace("\t", ""))
    assert inert(inert(text)) == inert(text)  # a second pass (Console.print of inert text) changes nothing


INVISIBLE = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n "] + [
    chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"
]


@pytest.mark.parametrize("command", ["##[error]x", "::add-mask::X", " ::error file=x.py::y", "\t##[warning]"])
def test_removing_an_invisible_character_never_creates_a_command(command: str) -> None:
    for ch in [*INVISIBLE, "\x1b[31m", "\x1b]8;;http://x\x1b\\", "\x1b[2K\r"]:
        for i in range(len(command) + 1):
            text = command[:i] + ch + command[i:]
            for out in (inert(text), inert_line(text), defuse(clean(text))):
                assert all(parse(line) is None for line in log_lines(out)), repr(text)


def test_every_control_and_format_character_is_removed_or_made_a_space() -> None:
    for ch in INVISIBLE:
        assert clean(ch) in ("", " ", "\n"), f"U+{ord(ch):04X}"
        assert clean(f"a{ch}\u00e9") in ("a\u00e9", "a \u00e9"), f"U+{ord(ch):04X}"  # é ends no escape sequence


def test_only_newline_splits_a_line() -> None:
    assert inert("a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\rh").split("\n") == ["a b c d e f g h"]
    assert inert("a\r\nb") == "a\nb"


def test_json_output_escapes_what_displays_badly_and_decodes_to_the_same_values() -> None:
    value = {"m": "##[error]x \u2028 \u061c \x85 \x9b \u202e \U000e0041 ok"}
    text = inert_json(json.dumps(value, ensure_ascii=False))
    assert json.loads(text) == value
    assert not CONTROL_CHARS.search(text) and "##[" not in text


# ------------------------------------------------------------------------------------- the formats
def corpus_report() -> Report:
    findings = tuple(
        Finding(
            path=path,
            line=3 + i,
            end_line=4 + i,
            severity=sev,
            rule="x::error::y\n##[add-mask]z",
            title=HOSTILE_LINES[i % len(HOSTILE_LINES)],
            message=CORPUS,
            suggestion=CORPUS,
            source="api",
            template="security",
            fingerprint=f"{i:032x}",
        )
        for i, (path, sev) in enumerate(
            zip(
                ("src/app.py", *HOSTILE_PATHS),
                (Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.CRITICAL),
                strict=True,
            )
        )
    )
    explanation = Explanation(
        test_id="tests/test_x.py::test_a[::error::p]",
        category="assertion ##[warning]c",
        explanation=CORPUS,
        fix=CORPUS,
        path="tests/test_x.py",
        line=3,
    )
    return Report(
        kind="review",
        findings=findings,
        explanations=(explanation,),
        hunks=2,
        fallback_reason=CORPUS,
        notices=(CORPUS,),
        skipped={"##[error]x\u2028::add-mask::y": 1},
    )


@pytest.mark.parametrize("name", sorted(annotators()))
def test_every_format_is_inert_on_stdout_and_in_its_file(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # sarif and gitlab write their default file here
    report = corpus_report()
    out, err = io.StringIO(), io.StringIO()
    ctx = RenderContext(token=TOKEN, workspace=tmp_path, step_summary=tmp_path / "summary.md")
    ours = ANNOTATIONS if name == "github" else ()
    written = emit(report, [(name, None)], ctx, Console(out, err, color="never"), annotators())
    written += emit(report, [(name, tmp_path / f"out.{name}")], ctx, Console(out, err, color="never"), annotators())
    annotations = assert_inert(out.getvalue() + err.getvalue(), ours=ours)
    for path in written:  # a job may print these files too (markdown breaks triggers with U+200B on purpose)
        mine = ours if path.name.startswith("out.") else ()
        assert_inert(path.read_text(encoding="utf-8"), ours=mine, controls=path.suffix != ".md")
    if name == "github":  # our own annotations still run: one per finding and explanation, in place
        assert len(annotations) == 5  # four findings and one located explanation
        files = {c.properties.get("file") for c in annotations}
        assert files == {"src/app.py", "tests/test_x.py", *(" ".join(clean(p).split()) for p in HOSTILE_PATHS)}
        assert {c.name for c in annotations} == {"error", "warning", "notice"}
        assert all("add-mask" not in c.properties for c in annotations)


def test_colour_does_not_open_a_hole() -> None:
    report = corpus_report()
    out = io.StringIO()
    emit(report, [("text", None)], RenderContext(color=True, token=TOKEN), Console(out, io.StringIO()), annotators())
    assert "\x1b[" in out.getvalue()  # our colours are there
    assert_inert(out.getvalue(), controls=False)


# --------------------------------------------------------------------- console results and notices
@pytest.mark.parametrize("color", ["never", "always"])
def test_console_results_notices_and_errors_are_inert(color: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err, color=color)
    console.print(CORPUS)
    console.print(CORPUS, "bold")
    console.notice(CORPUS)
    console.notice(f"local fallback: {CORPUS}")
    console.error(CORPUS)
    assert_inert(out.getvalue() + err.getvalue(), controls=color == "never")
    assert len(err.getvalue().splitlines()) == 3  # each notice and error is one line
    assert "arabic letter mark first" in out.getvalue()  # the text is still shown


def test_progress_lines_with_a_hostile_file_name() -> None:
    out = io.StringIO()
    clock = iter(range(0, 1000, 10))
    p = Progress(out, mode="lines", color=False, timer=False, interval=0.0, clock=lambda: float(next(clock)))
    for i, path in enumerate([*HOSTILE_PATHS, *HOSTILE_LINES]):
        p(Tick(total=50, done=i, cached=0, spent_micro=0, sending=(path, "x")))
    p(Tick(total=50, done=50, cached=0, spent_micro=0, finished=True))
    assert "sending" in out.getvalue()
    assert_inert(out.getvalue())


# --------------------------------------------------------------- the command line, end to end
def _review_env(hook_env: HookEnv, fake: FakeOpenAI, repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    hook_env.point(fake.url)
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(repo.path))


def _corpus_findings(item_id: str, label: str, content: str) -> list[dict[str, Any]]:
    added = [local for local, is_added, _ in numbered_lines(content) if is_added]
    return [
        {**finding(added[0], severity="high", checklist="security"), "title": line[:300], "message": CORPUS[:4000]}
        for line in HOSTILE_LINES[:3]
    ]


def test_review_with_hostile_file_names_and_model_text(
    git_repo: GitRepo,
    fake_openai: FakeOpenAI,
    hook_env: HookEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _review_env(hook_env, fake_openai, git_repo, monkeypatch)
    for path in HOSTILE_PATHS:
        git_repo.write(path, "def f(x):\n    return x * 2\n")
        git_repo.add(path)
    fake_openai.responder = answering(findings=_corpus_findings)
    capsys.readouterr()
    assert main(["review", "--format", "github", "--format", "text", "--fail-on", "never"]) == 0
    captured = capsys.readouterr()
    annotations = assert_inert(captured.out + captured.err, ours=ANNOTATIONS)
    assert annotations  # our annotations still run
    shown = {" ".join(clean(p).split()) for p in HOSTILE_PATHS}
    assert {c.properties.get("file") for c in annotations} <= shown


@pytest.mark.parametrize("command", ["query", "review"])
def test_an_upstream_error_message_on_the_fallback_line_is_inert(
    git_repo: GitRepo,
    fake_openai: FakeOpenAI,
    hook_env: HookEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    _review_env(hook_env, fake_openai, git_repo, monkeypatch)
    git_repo.write("calc.py", "def f(x):\n    return x * 2\n")
    git_repo.add("calc.py")
    fake_openai.fail(400, code="invalid_value", message=CORPUS[:2000], times=None)
    capsys.readouterr()
    args = ["query", "what is a mutex?"] if command == "query" else ["review", "--format", "text"]
    main(args)
    captured = capsys.readouterr()
    assert fake_openai.chat_requests  # the server was asked, and answered with the corpus
    assert captured.err.strip()  # the reason is printed
    assert_inert(captured.out + captured.err)


def test_stats_html_strips_controls_from_names(
    hook_env: HookEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    hook_env.cache_dir.mkdir(parents=True)
    event = {
        "ts": time.time(), "run": "r\x00n", "source": "request", "template": "sec\x1b[2Jurity", "items": 1,
        "reason": "", "model": "gpt\x00-\x07evil\x1b]0;t\x07\u202e\u061c<b>", "cost_micro": 5000,
        "prompt_tokens": 10, "completion_tokens": 5,
    }  # fmt: skip
    (hook_env.cache_dir / "stats.jsonl").write_text(json.dumps(event) + "\n")
    page = tmp_path / "usage.html"
    assert main(["stats", "--html", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    assert "gpt-evil&lt;b&gt;" in html  # the model is listed: escaped, controls gone
    assert not CONTROL_CHARS.search(html.replace("\n", "").replace("\t", ""))
    assert "evil<b>" not in html
    assert_inert(capsys.readouterr().err)


# ----------------------------------------------------------------- the pytest summary, end to end
PYTEST_FAILING = "def test_add():\n    assert 1 + 1 == 3\n\n\ndef test_other():\n    assert [] == [1]\n"
_ITEM = re.compile(r"^## (\S+)", re.MULTILINE)


def _corpus_answer(request: dict[str, Any]) -> dict[str, Any]:
    ids = _ITEM.findall(request["messages"][-1]["content"])
    return {
        "results": [
            {"id": i, "category": "assertion ##[warning]c", "explanation": CORPUS[:6000], "fix": CORPUS[-3000:]}
            for i in ids
        ]
    }


@pytest.fixture
def ci_pytest(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI, tmp_path: Path) -> FakeOpenAI:
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "assist-cache"))
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + secrets.token_hex(20))
    monkeypatch.setenv("SYMPHONY_ASSIST_DEADLINE", "20")
    monkeypatch.setenv("LLM_MODEL_FALLBACK", "gpt-4o-mini")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return fake_openai


def test_pytest_summary_with_a_hostile_model_answer(pytester: pytest.Pytester, ci_pytest: FakeOpenAI) -> None:
    ci_pytest.responder = _corpus_answer
    pytester.makepyfile(test_failing=PYTEST_FAILING)
    result = pytester.runpytest("--assist", "--assist-format", "github")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "= symphony-assist =" in out and "arabic letter mark first" in out  # explained, shown as text
    assert len(ci_pytest.chat_requests) == 1
    annotations = assert_inert(out + "\n" + result.stderr.str(), ours=ANNOTATIONS, controls=False)
    assert {c.properties.get("file") for c in annotations} == {"test_failing.py"}  # ours still run
    section = out[out.index("= symphony-assist =") :]
    assert_inert(section.split("::stop-commands::")[0])  # the summary itself: no command at all


def test_pytest_local_fallback_line_with_a_hostile_upstream_error(
    pytester: pytest.Pytester, ci_pytest: FakeOpenAI
) -> None:
    ci_pytest.fail(400, code="invalid_value", message=CORPUS[:2000], times=None)
    pytester.makepyfile(test_failing=PYTEST_FAILING)
    result = pytester.runpytest("--assist")
    out = result.stdout.str()
    assert ci_pytest.chat_requests
    assert "local fallback: " in out
    assert_inert(out + "\n" + result.stderr.str(), controls=False)
    section = out[out.index("= symphony-assist =") :]
    assert_inert(section)
