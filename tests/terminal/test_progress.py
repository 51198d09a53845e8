"""Progress on long runs (#11): a status line on a terminal's stderr, throttled lines in CI logs, nothing
otherwise, never on stdout. The end-to-end tests give `review` a real pseudo-terminal as stderr."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from responders import answering

from symphony_assist_hooks.assistant import Assistant
from symphony_assist_hooks.assistant.request import Item, Request
from symphony_assist_hooks.config import load_settings
from symphony_assist_hooks.progress import Tick, Tracker
from symphony_assist_hooks.terminal.progressline import Progress, progress_mode, stderr_progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def tick(done: int, *, total: int = 10, sending: tuple[str, ...] = (), finished: bool = False) -> Tick:
    return Tick(total=total, done=done, cached=3, spent_micro=1_500 * done, sending=sending, finished=finished)


# ----------------------------------------------------------------------------------------- modes
@pytest.mark.parametrize(
    ("tty", "env", "mode"),
    [
        (True, {"TERM": "xterm-256color"}, "tty"),
        (True, {"TERM": "xterm", "CI": "true"}, "tty"),  # a CI job with a terminal is a terminal
        (True, {"TERM": "dumb"}, "lines"),  # no \r redraws on a dumb terminal
        (False, {}, "off"),
        (False, {"CI": "true"}, "lines"),
        (False, {"CI": "1"}, "lines"),
        (False, {"CI": "false"}, "off"),
    ],
)
def test_mode(tty: bool, env: dict[str, str], mode: str) -> None:
    stream = Tty() if tty else io.StringIO()
    assert progress_mode(stream, env) == mode


def test_off_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from symphony_assist_hooks.terminal.console import Console

    monkeypatch.delenv("CI", raising=False)
    assert stderr_progress(Console(io.StringIO(), io.StringIO()), "hunks") is None


# ------------------------------------------------------------------------------------- tty drawing
def test_tty_line_is_redrawn_in_place_and_erased_at_the_end() -> None:
    out = Tty()
    clock = Clock()
    p = Progress(out, noun="hunks", mode="tty", color=False, clock=clock, width=200, timer=False)
    p(tick(3))
    clock.now += 2
    p(tick(3, sending=("src/app.py (python)", "src/db.py (python)")))
    clock.now += 3
    p(tick(7))
    p(tick(10, finished=True))
    text = out.getvalue()
    assert "\n" not in text  # one line, redrawn
    frames = text.split("\r")[1:]
    assert frames[0] == "symphony-assist: 3/10 hunks, 3 cached, $0.0045 spent, 0s"
    assert (
        frames[1] == "symphony-assist: 3/10 hunks, 3 cached, $0.0045 spent, 2s - sending src/app.py (python) (+1 more)"
    )
    assert frames[2].rstrip() == "symphony-assist: 7/10 hunks, 3 cached, $0.0105 spent, 5s"
    assert frames[2].endswith(" " * (len(frames[1]) - len(frames[2].rstrip())))  # the longer line is covered
    assert frames[3].strip() == ""  # erased
    assert "\x1b" not in text  # no colour, no cursor escapes: only \r and spaces


def test_tty_colour_only_when_allowed() -> None:
    out = Tty()
    Progress(out, mode="tty", color=True, timer=False, width=200)(tick(1))
    assert out.getvalue().startswith("\r\x1b[2msymphony-assist: 1/10")


def test_no_color_env_turns_colour_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm")
    out = Tty()
    p = Progress(out, timer=False, width=200)
    assert p.mode == "tty"
    p(tick(1))
    assert "\x1b" not in out.getvalue()


def test_tty_line_never_wraps_and_labels_are_sanitized() -> None:
    out = Tty()
    p = Progress(out, mode="tty", color=False, timer=False, width=60)
    p(tick(1, sending=("evil\x1b]0;title\x07name\r\n.py" + "x" * 200,)))
    frame = out.getvalue().split("\r")[1]
    assert len(frame) == 59
    assert frame.endswith("…")
    assert "\x1b" not in frame
    assert "\n" not in frame


def test_wrapped_notice_erases_the_line_first() -> None:
    out = Tty()
    p = Progress(out, mode="tty", color=False, timer=False, width=200)
    p(tick(1))
    p.wrap(lambda text: out.write(text + "\n"))("symphony-assist: a warning")
    shown = out.getvalue().split("\r")
    assert shown[-1] == "symphony-assist: a warning\n"
    assert shown[-2].strip() == ""


def test_timer_redraws_the_elapsed_time() -> None:
    out = Tty()
    clock = Clock()
    p = Progress(out, mode="tty", color=False, clock=clock, width=200)
    try:
        p(tick(1))
        clock.now += 42
        deadline = threading.Event()
        for _ in range(300):  # up to 30 s: a hang detector for the timer thread, not a speed check
            if "42s" in out.getvalue():
                break
            deadline.wait(0.1)
        assert "42s" in out.getvalue()
    finally:
        p.close()
    assert out.getvalue().split("\r")[-1].strip() == ""


# ----------------------------------------------------------------------------------- CI log lines
def test_lines_mode_prints_at_most_every_interval() -> None:
    out = io.StringIO()
    clock = Clock()
    p = Progress(out, noun="hunks", mode="lines", clock=clock, interval=5.0, timer=False)
    for i in range(13):  # a tick a second for 12 seconds
        p(tick(min(i, 9)))
        clock.now += 1
    p(tick(10, finished=True))
    lines = out.getvalue().splitlines()
    assert lines == [
        "symphony-assist: 5/10 hunks, 3 cached, $0.0075 spent, 5s",
        "symphony-assist: 9/10 hunks, 3 cached, $0.0135 spent, 10s",
        "symphony-assist: 10/10 hunks, 3 cached, $0.0150 spent, 13s - done",
    ]
    assert "\r" not in out.getvalue()
    assert "\x1b" not in out.getvalue()


def test_lines_mode_is_silent_for_a_short_run() -> None:
    out = io.StringIO()
    clock = Clock()
    p = Progress(out, mode="lines", clock=clock, timer=False)
    p(tick(3))
    clock.now += 2
    p(tick(10, finished=True))
    assert out.getvalue() == ""


# ------------------------------------------------------------------------------------------ tracker
def test_tracker_counts_and_drops_a_broken_callback() -> None:
    seen: list[Tick] = []
    t = Tracker(seen.append, total=5, cached=2)
    first = t.sending(["a.py", "b.py"])
    second = t.sending(["c.py"])  # concurrent requests
    t.sent(second, 1, 700, answered=True)
    t.sent(first, 2, 900, answered=False)
    t.finish(900)
    assert [(x.done, x.cached, x.local, x.spent_micro, x.sending, x.finished) for x in seen] == [
        (2, 2, 0, 0, (), False),
        (2, 2, 0, 0, ("a.py", "b.py"), False),
        (2, 2, 0, 0, ("c.py",), False),
        (3, 2, 0, 700, ("a.py", "b.py"), False),  # the one still in flight
        (5, 2, 2, 900, (), False),
        (5, 2, 2, 900, (), True),
    ]

    def broken(_: Tick) -> None:
        raise RuntimeError("terminal gone")

    t = Tracker(broken, total=1, cached=0)  # the first tick raises; the run goes on
    t.finish(0)


# ------------------------------------------------------------------------------ the Assistant's side
def _env(fake: FakeOpenAI, tmp_path: Path) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": "sk-test-" + secrets.token_hex(16),
        "OPENAI_BASE_URL": fake.url,
        "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "cache"),
        "SYMPHONY_ASSIST_MAX_REQUEST_TOKENS": "500",  # several requests for a handful of files
        "SYMPHONY_ASSIST_CONCURRENCY": "1",
        "SYMPHONY_ASSIST_TIMEOUT": "5",
    }


def _items(n: int) -> tuple[Item, ...]:
    return tuple(Item(f"h{i}", f"def f{i}(x):\n" + "    return x + 1\n" * 60, f"pkg/mod{i}.py") for i in range(n))


def test_assistant_ticks_per_request_and_never_on_a_hit(
    fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.responder = answering()
    for k, v in _env(fake_openai, tmp_path).items():
        monkeypatch.setenv(k, v)
    settings = load_settings({}, cwd=tmp_path)
    request = Request(frame="findings", templates=("code_review",), items=_items(4))
    seen: list[Tick] = []
    assistant = Assistant(settings, progress=seen.append)
    try:
        assistant.ask(Request(frame="findings", templates=("code_review",), items=_items(1)))  # h0 cached now
        seen.clear()
        assistant.ask(request)
    finally:
        assistant.close()
    assert len(fake_openai.chat_requests) >= 3  # one for h0, then the three misses in more than one request
    assert seen[0] == Tick(total=4, done=1, cached=1, spent_micro=0)
    assert seen[-1].finished
    assert seen[-1].done == 4
    assert seen[-1].spent_micro > 0
    assert [t.done for t in seen] == sorted(t.done for t in seen)
    assert any(t.sending and t.sending[0].startswith("pkg/mod") for t in seen)

    seen.clear()
    again = Assistant(settings, progress=seen.append)
    try:
        again.ask(request)  # every item is a hit now
    finally:
        again.close()
    assert seen == []


# ------------------------------------------------------------------------- review, end to end on a pty
def _repo(git_repo: GitRepo) -> None:
    for i in range(6):
        git_repo.write(f"src/mod{i}.py", "".join(f"def f{i}_{j}(x):\n    return x * {j}\n" for j in range(40)))
    git_repo.add()
    git_repo.commit("files")


def _review(env: dict[str, str], cwd: Path, *, stderr_tty: bool) -> tuple[str, str]:
    """Run `symphony-assist review --all-files`; stdout is always a pipe, stderr a pty or a pipe."""
    cmd = [sys.executable, "-m", "symphony_assist_hooks", "review", "--all-files", "--format", "json"]
    if not stderr_tty:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
        return done.stdout, done.stderr
    return _on_pty(cmd, cwd, env)


@pytest.fixture
def review_env(fake_openai: FakeOpenAI, tmp_path: Path, git_repo: GitRepo) -> dict[str, str]:
    fake_openai.responder = answering()
    _repo(git_repo)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR")}
    env.update(_env(fake_openai, tmp_path), TERM="xterm-256color")
    return env


PROGRESS = re.compile(r"symphony-assist: \d+/\d+ hunks, \d+ cached, \$[\d.]+ spent")


def test_review_shows_progress_on_a_terminal_and_never_on_stdout(
    review_env: dict[str, str], git_repo: GitRepo, fake_openai: FakeOpenAI
) -> None:
    out, err = _review(review_env, git_repo.path, stderr_tty=True)
    assert len(fake_openai.chat_requests) >= 2
    assert PROGRESS.search(err), err
    assert "sending src/mod" in err
    assert "\r" in err
    assert "\x1b[2m" in err  # a colour terminal
    assert not PROGRESS.search(out)
    assert "\r" not in out
    json.loads(out)  # stdout is exactly the --format json document


def test_review_progress_respects_no_color(review_env: dict[str, str], git_repo: GitRepo) -> None:
    _, err = _review({**review_env, "NO_COLOR": "1"}, git_repo.path, stderr_tty=True)
    assert PROGRESS.search(err), err
    assert "\x1b" not in err


def test_review_prints_no_progress_to_a_pipe(review_env: dict[str, str], git_repo: GitRepo) -> None:
    out, err = _review(review_env, git_repo.path, stderr_tty=False)
    assert not PROGRESS.search(err)
    assert not PROGRESS.search(out)
    assert "\r" not in err


@pytest.mark.parametrize(
    ("module", "ours"),
    [
        ("symphony_assist_hooks.progress", ["symphony_assist_hooks", "symphony_assist_hooks.progress"]),
        (
            "symphony_assist_hooks.terminal.console",
            [
                "symphony_assist_hooks",
                "symphony_assist_hooks.logsafe",
                "symphony_assist_hooks.terminal",
                "symphony_assist_hooks.terminal.console",
            ],  # progress.py only for annotations: its dataclasses stay off `--help`
        ),
    ],
)
def test_importing_progress_costs_only_the_standard_library(module: str, ours: list[str]) -> None:
    """The core's events and their rendering: the review command imports both before it knows whether
    anything will be sent (hit path)."""
    probe = (
        f"import sys; before = set(sys.modules); import {module}; "
        "new = set(sys.modules) - before; "
        "print(sorted(m for m in new if m.split('.')[0] not in sys.stdlib_module_names))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(ours)


def test_pytest_progress_suspends_capture_around_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from symphony_assist_hooks.explain.session import pytest_progress

    events: list[str] = []

    class CapMan:
        @contextlib.contextmanager
        def global_and_fixture_disabled(self) -> Iterator[None]:
            events.append("suspended")
            monkeypatch.setattr(sys, "stderr", Tty())  # the real terminal, while capture is off
            yield
            events.append("resumed")

    class PluginManager:
        def getplugin(self, name: str) -> object:
            return CapMan() if name == "capturemanager" else None

    class Config:
        pluginmanager = PluginManager()

    monkeypatch.setenv("TERM", "xterm")
    with pytest_progress(Config()) as progress:
        assert events == ["suspended"]
        assert progress is not None
        assert progress.noun == "failures"
        assert progress.mode == "tty"
    assert events == ["suspended", "resumed"]


def _on_pty(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[str, str]:
    """Run `cmd` with stdout on a pipe and stderr on a pseudo-terminal."""
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(master)
    return out.decode(), b"".join(chunks).decode(errors="replace")


def test_pytest_assist_shows_progress_on_a_terminal_and_never_on_stdout(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.responder = answering()
    project = tmp_path / "proj"
    project.mkdir()
    (project / "test_many.py").write_text(
        "".join(f"def test_{i}():\n    assert {i} == {i + 1}, 'value {i}' + 'x' * 300\n\n" for i in range(4))
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR", "PYTEST_ADDOPTS")}
    env.update(_env(fake_openai, tmp_path), TERM="xterm-256color", SYMPHONY_ASSIST_MAX_REQUEST_TOKENS="500")
    out, err = _on_pty([sys.executable, "-m", "pytest", "--assist", "-p", "no:cacheprovider", "-q"], project, env)
    assert len(fake_openai.chat_requests) >= 2
    assert re.search(r"symphony-assist: \d+/4 failures", err), err
    assert "failures, " not in out.split("symphony-assist")[0]  # nothing of the progress line on stdout
    assert "\r" not in out
    assert "symphony-assist" in out  # the explanations section itself is pytest's terminal output
