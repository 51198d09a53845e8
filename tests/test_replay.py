"""Replay (replay.py, recorder.py): a fully cached staged review printed again without being run.

In process, `replay.replay(argv)` then `cli.main(argv)` is exactly what entry.main does; the
fresh-process tests go through `python -m symphony_assist_hooks` (entry.main) and check what it imported.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from responders import answering, finding, numbered_lines

from symphony_assist_hooks.assistant.prompts import _cached_registry
from symphony_assist_hooks.cli import main
from symphony_assist_hooks.config import builtin_template_dir, load_settings, user_dirs
from symphony_assist_hooks.review import recorder, replay

RISKY = 'import os\n\n\ndef clean(path):\n    os.system("rm -rf " + path)\n'


def _flag_system(item_id: str, label: str, content: str) -> list[dict[str, object]]:
    return [
        finding(local, rule="command-injection", severity="high", checklist="security", title="os.system with input")
        for local, added, text in numbered_lines(content)
        if added and "os.system" in text
    ]


@pytest.fixture(autouse=True)
def _no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests write files and review within milliseconds; the racy-write rule has its own test."""
    monkeypatch.setattr(recorder, "RACY_NS", 0)


@pytest.fixture
def flagging(keyed: FakeOpenAI) -> FakeOpenAI:
    """`keyed` (conftest.py), answering with a finding on each added os.system line."""
    keyed.responder = answering(findings=_flag_system)
    return keyed


@pytest.fixture
def staged(git_repo: GitRepo) -> GitRepo:
    git_repo.commit_files(
        {"README.md": "demo\n", "pkg/tool.py": "X = 1\n", "pyproject.toml": "[project]\nname = 'demo'\n"}
    )
    git_repo.write("pkg/tool.py", RISKY)
    git_repo.add("pkg/tool.py")
    return git_repo


class Run:
    def __init__(self, code: int, out: str, err: str, replayed: bool) -> None:
        self.code, self.out, self.err, self.replayed = code, out, err, replayed


def hook(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """What entry.main does, in process: a replay, else the full command (which may record one)."""
    args = ["review", *argv]
    code = replay.replay(args)
    replayed = code is not None
    if code is None:
        code = main(args)
    out, err = capsys.readouterr()
    return Run(code, out, err, replayed)


def records(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cache" / replay.SUBDIR
    return sorted(folder.iterdir()) if folder.is_dir() else []


def primed(capsys: pytest.CaptureFixture[str], fake: FakeOpenAI) -> Run:
    """A first run (asks the model), then a second (all cached: records). Returns the second."""
    first = hook(capsys)
    assert first.code == 1 and not first.replayed
    assert len(fake.chat_requests) == 1
    second = hook(capsys)
    assert second.code == 1 and not second.replayed
    assert len(fake.chat_requests) == 1
    return second


def test_a_fully_cached_review_is_replayed_exactly(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = primed(capsys, flagging)
    assert "pkg/tool.py:5: high [bandit/B605]" in second.out and "+ cache command-injection)" in second.out
    assert len(records(tmp_path)) == 1
    third = hook(capsys)
    assert third.replayed
    assert (third.code, third.out, third.err) == (second.code, second.out, second.err)
    assert len(flagging.chat_requests) == 1


def test_the_first_run_asking_the_model_records_nothing(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not hook(capsys).replayed
    assert records(tmp_path) == []  # a request was made: only an all-cached run is kept


def test_a_replay_records_the_same_stats_events_under_a_new_run(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    primed(capsys, flagging)
    log = tmp_path / "cache" / "stats.jsonl"
    before = [json.loads(line) for line in log.read_text().splitlines()]
    assert hook(capsys).replayed
    after = [json.loads(line) for line in log.read_text().splitlines()]
    cached = [e for e in before if e["source"] == "cache"]
    added = after[len(before) :]
    assert cached and len(added) == len(cached)
    strip = lambda e: {k: v for k, v in e.items() if k not in ("ts", "run")}  # noqa: E731
    assert [strip(e) for e in added] == [strip(e) for e in cached[-len(added) :]]
    assert {e["run"] for e in added}.isdisjoint({e["run"] for e in before})
    assert min(e["ts"] for e in added) >= max(e["ts"] for e in before)
    assert main(["stats", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total"]["cache"] == 2 * sum(e["items"] for e in cached)


@pytest.mark.parametrize(
    "change",
    ["staged content", "pyproject setting", "environment", "baseline", "repository template", "gitattributes"],
)
def test_anything_the_result_depends_on_ends_the_replay(
    change: str,
    staged: GitRepo,
    flagging: FakeOpenAI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    primed(capsys, flagging)
    assert hook(capsys).replayed
    asked = len(flagging.chat_requests)
    if change == "staged content":
        staged.write("pkg/tool.py", RISKY + "\n\ndef more(path):\n    os.system('ls ' + path)\n")
        staged.add("pkg/tool.py")
    elif change == "pyproject setting":
        staged.write("pyproject.toml", '[tool.symphony-assist]\nfail_on = "never"\n')
    elif change == "environment":
        monkeypatch.setenv("SYMPHONY_ASSIST_FAIL_ON", "never")
    elif change == "baseline":
        assert main(["baseline", "--output", ".symphony-assist/baseline.json"]) == 0
        capsys.readouterr()
        asked = len(flagging.chat_requests)  # `baseline` reviewed every file: only the hook run counts
    elif change == "repository template":  # overrides the built-in one: a new prompt, so a new request
        staged.write(".symphony-assist/templates/code_review.md.j2", "---\ndescription: ours\n---\nLook for typos.\n")
        _cached_registry.cache_clear()  # one process per run in real life
    elif change == "gitattributes":
        staged.write(".gitattributes", "*.py -diff\n")  # the file becomes binary: skipped
    run = hook(capsys)
    assert not run.replayed
    if change in ("pyproject setting", "environment", "baseline", "gitattributes"):
        assert run.code == 0  # the change took effect: nothing fails the commit any more
    if change == "gitattributes":
        assert "pkg/tool.py:5" not in run.out
    assert len(flagging.chat_requests) == asked + (change in ("staged content", "repository template"))


def test_cache_clear_and_import_drop_every_record(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    primed(capsys, flagging)
    assert main(["cache", "export", str(tmp_path / "export.jsonl")]) == 0
    assert main(["cache", "import", str(tmp_path / "export.jsonl")]) == 0
    assert records(tmp_path) == []
    assert not hook(capsys).replayed  # reviewed again from the cache, and kept again
    assert len(records(tmp_path)) == 1
    assert main(["cache", "clear"]) == 0
    assert records(tmp_path) == []
    assert not hook(capsys).replayed
    assert len(flagging.chat_requests) == 2  # the cleared answers were asked for again


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--no-cache"], {}),
        (["--format", "json=report.json"], {}),
        ([], {"SYMPHONY_ASSIST_REPLAY": "0"}),
    ],
)
def test_runs_that_are_never_kept(
    argv: list[str],
    env: dict[str, str],
    staged: GitRepo,
    flagging: FakeOpenAI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for _ in range(3):
        assert not hook(capsys, *argv).replayed
    assert records(tmp_path) == []


def test_a_run_without_a_key_is_kept_until_a_key_is_set(
    staged: GitRepo,
    flagging: FakeOpenAI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No key (the quick start's hook): the local analyzers answer the same way for the same staged changes,
    so the second run is replayed. A key set since is in the replay key (by presence): the model is asked."""
    key = os.environ.pop("OPENAI_API_KEY")
    first = hook(capsys)
    assert not first.replayed and "local analyzers answered" in first.err
    assert "pkg/tool.py:5: high [bandit/B605]" in first.out
    assert len(records(tmp_path)) == 1
    second = hook(capsys)
    assert second.replayed
    assert (second.code, second.out, second.err) == (first.code, first.out, first.err)
    offline = [hook(capsys, "--offline") for _ in range(2)]  # another command line: reviewed, then kept
    assert [r.replayed for r in offline] == [False, True] and "offline (--offline" in offline[1].err
    monkeypatch.setenv("OPENAI_API_KEY", key)
    keyed = hook(capsys)
    assert not keyed.replayed and len(flagging.chat_requests) == 1


def test_a_fallback_for_a_spent_budget_is_never_kept(
    staged: GitRepo,
    flagging: FakeOpenAI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A budget is spent or not depending on the ledger, which the replay key does not hold."""
    monkeypatch.setenv("SYMPHONY_ASSIST_BUDGET_RUN", "0")
    for _ in range(3):
        run = hook(capsys)
        assert not run.replayed
        assert "local analyzers answered" in run.err and "budget" in run.err
    assert records(tmp_path) == [] and flagging.chat_requests == []


def test_a_pyproject_cache_dir_elsewhere_is_never_kept(
    staged: GitRepo,
    flagging: FakeOpenAI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SYMPHONY_ASSIST_CACHE_DIR")
    staged.write("pyproject.toml", f'[tool.symphony-assist]\ncache_dir = "{tmp_path / "elsewhere"}"\n')
    runs = [hook(capsys) for _ in range(3)]
    assert not (tmp_path / "elsewhere").exists()  # a repository never chooses the cache dir (trust boundary)
    assert "ignored cache_dir" in runs[0].err
    assert runs[-1].replayed  # kept where the environment says (the user cache dir), and found there


def test_changes_staged_while_the_review_runs_get_no_record(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    primed(capsys, flagging)
    for path in records(tmp_path):
        path.unlink()
    assert replay.replay(["review"]) is None  # looked up under the listing staged now
    staged.write("README.md", "changed meanwhile\n")
    staged.add("README.md")
    main(["review"])
    assert records(tmp_path) == []


def test_an_expired_or_damaged_record_runs_the_review(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    primed(capsys, flagging)
    [path] = records(tmp_path)
    fields = replay.fields(path.read_bytes())
    assert float(fields[1]) > 0  # expires with the cache entries (LLM_CACHE_TTL)
    fields[1] = b"1.0"
    path.write_bytes(replay.pack(fields))
    assert not hook(capsys).replayed  # expired; the review ran and kept a fresh record
    assert float(replay.fields(path.read_bytes())[1]) > 1.0
    path.write_bytes(path.read_bytes()[:-7])
    run = hook(capsys)
    assert not run.replayed and run.code == 1
    assert hook(capsys).replayed


def test_records_hold_no_key_and_are_private(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    primed(capsys, flagging)
    [path] = records(tmp_path)
    assert os.environ["OPENAI_API_KEY"].encode() not in path.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_the_key_counts_secrets_by_presence_and_settings_by_value(
    staged: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = replay.staged_listing()
    assert listing is not None and b"pkg/tool.py" in listing
    monkeypatch.setenv("OPENAI_API_KEY", "sk-one-" + secrets.token_hex(8))
    first = replay.replay_key(["review"], listing)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-two-" + secrets.token_hex(8))
    assert replay.replay_key(["review"], listing) == first
    monkeypatch.delenv("OPENAI_API_KEY")
    assert replay.replay_key(["review"], listing) != first
    monkeypatch.setenv("SYMPHONY_ASSIST_FAIL_ON", "low")
    with_setting = replay.replay_key(["review"], listing)
    assert with_setting != replay.replay_key(["review", "--fail-on", "low"], listing)
    assert with_setting != replay.replay_key(["review"], listing + b"x")


def test_the_fast_path_finds_the_cache_dir_the_settings_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    assert replay.cache_dir() == str(user_dirs()[0])
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", "~/elsewhere")
    assert replay.cache_dir() == os.path.abspath(load_settings().resolved_cache_dir)


def test_outside_a_repository_nothing_is_looked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert replay.staged_listing() is None
    assert replay.replay(["review"]) is None
    assert replay.lookup.pending is None


@pytest.mark.parametrize(
    "argv",
    [["query", "x"], ["review", "--help"], ["review", "--rev", "A..B"], ["--version"], ["review", "--pre-commit"]],
)
def test_other_commands_never_ask_git(argv: list[str], staged: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", "a" * 40)  # pre-push names a range
    monkeypatch.setenv("PRE_COMMIT_TO_REF", "b" * 40)
    monkeypatch.setattr(replay, "staged_listing", lambda: pytest.fail("git was asked"))
    assert replay.replay(argv) is None


def test_dependencies_cover_what_a_review_reads(
    staged: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    included = tmp_path / "included.gitconfig"
    included.write_text("[diff]\n\tinterHunkContext = 3\n")
    staged.run("config", "include.path", str(included))
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    settings = load_settings()
    deps = dict(recorder.dependencies(settings, str(staged.path), ["pkg/tool.py"], [str(tmp_path / "b.json")]))
    package = Path(replay.__file__).parent
    stat = {p for p, kind in deps.items() if kind == "stat"}
    assert str(builtin_template_dir() / "code_review.md.j2") in stat
    assert str(package / "replay.py") in stat
    assert str(staged.path / "pyproject.toml") in stat
    assert str(staged.path / ".symphony-assist" / "baseline.json") in stat
    assert str(tmp_path / "b.json") in stat
    assert {str(staged.path / "pkg" / ".gitattributes"), str(staged.path / ".gitattributes")} <= stat
    assert str(staged.path / "pkg" / "ruff.toml") in stat
    assert str(staged.path / ".git" / "info" / "attributes") in stat
    assert {str(staged.path / ".git" / "config"), str(included)} <= stat  # include.path targets too
    assert any(p.endswith("site-packages") for p in stat)
    assert deps[str(staged.path / ".git")] == "kind"  # git writes into it on every commit
    assert deps[str(tmp_path / "cache" / "responses.generation")] == "content"


def test_stamps_of_each_kind(tmp_path: Path) -> None:
    f = tmp_path / "f"
    assert replay.stamp(str(f)) == replay.stamp(str(f), "kind") == replay.stamp(str(f), "content") == b"-"
    f.write_text("one")
    assert replay.stamp(str(f), "kind") == b"file" and replay.stamp(str(tmp_path), "kind") == b"dir"
    assert replay.stamp(str(f), "content") == b"=one"
    for kind in ("stat", "kind", "content"):
        assert replay.unchanged(str(f), replay.stamp(str(f), kind))
    before = replay.stamp(str(f))
    st = f.stat()
    f.write_text("two")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert not replay.unchanged(str(f), before)
    assert replay.unchanged(str(f), b"file")  # only its kind is watched
    assert not replay.unchanged(str(f), b"=one")


def test_a_change_to_the_cache_ends_the_replay(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--no-cache` stores a new answer under the same key: the kept review is not printed again."""
    primed(capsys, flagging)
    assert hook(capsys).replayed
    flagging.responder = answering()  # the model changed its mind: no finding of its own
    fresh = hook(capsys, "--no-cache")
    assert len(flagging.chat_requests) == 2
    again = hook(capsys)
    assert not again.replayed
    assert "command-injection" not in again.out
    assert fresh.code == again.code == 1 and "[bandit/B605]" in again.out  # the analyzer's finding stays (#18)
    assert (tmp_path / "cache" / "responses.generation").is_file()
    assert not (tmp_path / "cache" / "scans.generation").exists()  # the scan memo announces nothing


def test_a_run_with_notices_is_never_kept(
    staged: GitRepo,
    flagging: FakeOpenAI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from symphony_assist_hooks.review import pipeline as review

    real = review._local_review

    def failing(templates: list[str], targets: list[object], notices: list[str], memo: object) -> list[object]:
        notices.append("ruff failed on pkg/notes.py: timed out")
        return list(real(templates, targets, notices, memo))

    monkeypatch.setattr(review, "_local_review", failing)
    staged.write("pkg/notes.py", "# only a comment\n")  # a comment-only hunk: the local analyzers
    staged.add("pkg/notes.py")
    primed(capsys, flagging)
    run = hook(capsys)
    assert not run.replayed and "ruff failed" in run.err
    assert records(tmp_path) == []


def test_a_run_writing_a_default_file_is_never_kept(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        assert not hook(capsys, "--format", "sarif").replayed  # sarif goes to its default file
    assert records(tmp_path) == []


def test_an_edit_just_before_the_run_is_never_kept(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    primed(capsys, flagging)
    for path in records(tmp_path):
        path.unlink()
    recorder.RACY_NS = 10**9  # the autouse fixture restores 0 afterwards
    staged.write("pyproject.toml", "[project]\nname = 'demo2'\n")  # now: within the racy window
    assert not hook(capsys).replayed
    assert records(tmp_path) == []


def test_a_git_commit_does_not_end_the_replay(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """git writes into .git (index.lock, logs) on every commit; only the staged listing matters."""
    primed(capsys, flagging)
    (staged.path / ".git" / "index.lock.test").write_text("")
    (staged.path / ".git" / "index.lock.test").unlink()
    assert hook(capsys).replayed


def test_the_key_ignores_the_index_file_name_and_url_credentials(
    staged: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = b"x"
    monkeypatch.setenv("OPENAI_BASE_URL", "https://user:pw-one@gw.example/v1?token=a")
    first = replay.replay_key(["review"], listing)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://user:pw-two@gw.example/v1?token=b")
    monkeypatch.setenv("GIT_INDEX_FILE", ".git/next-index-1234.lock")
    assert replay.replay_key(["review"], listing) == first
    assert "OPENAI_BASE_URL=https://gw.example/v1" in replay.key_environment()
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gw.example/v2")
    assert replay.replay_key(["review"], listing) != first


def test_git_config_in_the_environment_rules_a_replay_out(staged: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'http.extraheader'='Authorization: x'")
    monkeypatch.setattr(replay, "staged_listing", lambda: pytest.fail("git was asked"))
    assert replay.replay(["review"]) is None


def test_a_record_cut_anywhere_is_ignored(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    primed(capsys, flagging)
    [path] = records(tmp_path)
    whole = path.read_bytes()
    for cut in range(0, len(whole), max(1, len(whole) // 200)):
        path.write_bytes(whole[:cut])
        assert replay.replay(["review"]) is None, cut
    fields = replay.fields(whole)
    for end in range(len(fields)):  # cut at a field boundary: still damaged
        path.write_bytes(replay.pack(fields[:end]))
        assert replay.replay(["review"]) is None, end
    path.write_bytes(whole)
    assert hook(capsys).replayed


def test_an_ignored_sigchld_or_a_ctrl_c_never_gives_a_traceback(
    staged: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal

    from symphony_assist_hooks import entry

    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # inherited from a careless parent
    try:
        assert replay.staged_listing() is None  # git's status is gone: no fast path, no crash
    finally:
        signal.signal(signal.SIGCHLD, previous)

    def interrupted(argv: list[str]) -> int | None:
        raise KeyboardInterrupt

    monkeypatch.setattr(replay, "replay", interrupted)
    assert entry.main() == 130
    assert capsys.readouterr().err == "symphony-assist: interrupted\n"


def test_records_beyond_the_limit_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder, "KEEP", 3)
    folder = tmp_path / "replay"
    for i in range(5):
        assert recorder._write(folder, f"k{i}", b"x")
        os.utime(folder / f"k{i}", ns=(i * 10**9, i * 10**9))
    recorder._prune(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["k2", "k3", "k4"]


PROBE = """
import json, sys
sys.argv = ["symphony-assist", *sys.argv[1:]]
from symphony_assist_hooks.entry import main
before = set(sys.modules)
rc = main()
print(json.dumps({"rc": rc, "loaded": sorted(set(sys.modules) - before)}), file=sys.stderr)
"""


HEAVY = ("openai", "httpx2", "httpx", "pydantic", "jinja2", "redis", "genai_prices", "bandit", "detect_secrets")


def test_a_replay_in_a_fresh_process_imports_almost_nothing(
    staged: GitRepo, flagging: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    def fresh(**env: str) -> tuple[dict[str, object], str]:
        proc = subprocess.run(
            [sys.executable, "-c", PROBE, "review"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, **env},
        )
        *_, last = proc.stderr.strip().splitlines()
        return json.loads(last), proc.stdout

    backdate(staged.path)
    first, _ = fresh()
    assert first["rc"] == 1 and "argparse" in first["loaded"]  # asked the model
    _, out = fresh()  # answered from the cache, and kept
    third, again = fresh()
    assert third["rc"] == 1
    assert again == out and "pkg/tool.py:5: high [bandit/B605]" in again and "cache command-injection" in again
    assert set(third["loaded"]) <= {
        "symphony_assist_hooks.review",  # the package __init__ alone: a docstring
        "symphony_assist_hooks.review.replay",
        "symphony_assist_hooks.git",  # the package __init__ alone: a docstring
        "symphony_assist_hooks.git.env",
        "_sha256",
        "_sha2",
    }
    assert len(flagging.chat_requests) == 1
    full, again = fresh(SYMPHONY_ASSIST_REPLAY="0")  # the whole review, every hunk a cache hit
    assert full["rc"] == 1 and again == out
    assert "argparse" in full["loaded"]
    assert not [m for m in HEAVY if m in full["loaded"]]


def test_a_replay_keeps_the_order_of_stdout_and_stderr_on_one_pipe(git_repo: GitRepo, tmp_path: Path) -> None:
    """As under pre-commit, which reads both streams from one pipe: the notice stays after the summary."""
    git_repo.commit_files({"README.md": "demo\n"})  # nothing staged: a summary, then "nothing to review"
    backdate(tmp_path)
    env = {**os.environ, "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "cache")}

    def run() -> bytes:
        proc = subprocess.run(
            [sys.executable, "-m", "symphony_assist_hooks", "review"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0
        return proc.stdout

    full = run()
    assert full.index(b"nothing to review") > full.index(b"hunks reviewed")
    assert records(tmp_path)  # nothing asked, nothing cached: kept at once
    assert run() == full  # replayed


def backdate(*roots: Path) -> None:
    """Every file and folder under `roots` modified 10 s ago: out of the racy window of a fresh process."""
    past = time.time_ns() - 10 * 10**9
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in [*dirs, *files]:
                os.utime(os.path.join(folder, name), ns=(past, past), follow_symlinks=False)
        os.utime(root, ns=(past, past))


def test_a_config_included_on_some_branch_is_never_kept(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staged.run("config", "includeIf.onbranch:main.path", str(tmp_path / "main.gitconfig"))
    for _ in range(3):
        assert not hook(capsys).replayed  # a branch switch changes the config without touching a file
    assert records(tmp_path) == []


def test_an_ascii_terminal_gets_replacements_not_a_traceback(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit_files({"README.md": "demo\n"})
    backdate(tmp_path)
    env = {**os.environ, "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "cache"), "PYTHONIOENCODING": "ascii"}
    outs = []
    for _ in range(2):  # the whole review, then its replay
        proc = subprocess.run(
            [sys.executable, "-m", "symphony_assist_hooks", "review"], capture_output=True, env=env, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert b"0 hunks reviewed ? " in outs[0]  # "·" replaced
    assert outs[1] == outs[0] and records(tmp_path)


def test_closed_standard_streams_are_not_a_traceback(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit_files({"README.md": "demo\n"})
    git_repo.write("app.py", 'import os\n\n\ndef clean(path):\n    os.system("rm -rf " + path)\n')
    git_repo.add("app.py")
    env = {**os.environ, "SYMPHONY_ASSIST_CACHE_DIR": str(tmp_path / "cache")}
    for fail_on, expected in (("high", 1), ("never", 0)):  # no key: local analyzers; a crash would exit 1
        cmd = f"'{sys.executable}' -m symphony_assist_hooks review --fail-on {fail_on} >&- 2>&-; echo rc=$?"
        proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env=env, timeout=120)
        assert proc.stdout.strip() == f"rc={expected}", proc.stdout + proc.stderr


def test_a_record_with_a_mangled_body_is_ignored(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whole fields, the end mark in place, and still not a record this version wrote: the review runs."""
    primed(capsys, flagging)
    [path] = records(tmp_path)
    whole = path.read_bytes()
    fields = replay.fields(whole)
    labels = [i for i, f in enumerate(fields) if f in (b"out", b"err") and i > 4]
    assert labels, "the record holds output chunks"
    renamed = list(fields)
    renamed[labels[0]] = b"tty"  # a stream this version does not know
    path.write_bytes(replay.pack(renamed))
    assert replay.replay(["review"]) is None
    dropped = fields[: labels[0] + 1] + fields[labels[0] + 2 :]  # one chunk's text missing: pairs are off
    path.write_bytes(replay.pack(dropped))
    assert replay.replay(["review"]) is None
    count_at = 4 + 2 * int(fields[3])
    more = list(fields)
    more[count_at] = b"%d" % (int(fields[count_at]) + len(fields))  # more events than the record holds
    path.write_bytes(replay.pack(more))
    assert replay.replay(["review"]) is None
    path.write_bytes(whole)
    assert hook(capsys).replayed


def test_a_reader_that_went_away_during_a_replay_is_not_an_error(
    staged: GitRepo,
    flagging: FakeOpenAI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    primed(capsys, flagging)

    class Gone:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Gone())
    monkeypatch.setattr(sys, "stderr", Gone())
    assert replay.replay(["review"]) == 0  # as cli.main: `| head` closing the pipe is no failure


def test_replayed_stats_never_fail_a_run(tmp_path: Path) -> None:
    replay.append_stats(str(tmp_path), [])
    assert not (tmp_path / "stats.jsonl").exists()  # nothing recorded: no file created
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    replay.append_stats(str(blocker), [b'{"source":"cache","items":1}'])  # cannot be written: said nowhere
    replay.append_stats(str(tmp_path), [b'{"source":"cache","items":1}', b"{}"])
    lines = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [(e["source"], e["items"]) for e in lines[:1]] == [("cache", 1)]
    assert set(lines[1]) == {"run", "ts"} and lines[0]["run"] == lines[1]["run"]


def test_without_git_or_posix_spawn_nothing_is_replayed(
    staged: GitRepo,
    flagging: FakeOpenAI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    primed(capsys, flagging)
    with monkeypatch.context() as m:
        m.setenv("PATH", str(tmp_path / "empty"))  # git cannot be found: the full command runs (and says why)
        assert replay.staged_listing() is None
        assert replay.replay(["review"]) is None
    with monkeypatch.context() as m:
        m.delattr(os, "posix_spawnp")  # a platform without it
        assert replay.staged_listing() is None
        assert replay.replay(["review"]) is None
    assert hook(capsys).replayed  # both back: replayed again


def test_a_pyproject_created_above_the_folder_reviewed_from_ends_the_replay(
    staged: GitRepo,
    flagging: FakeOpenAI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(staged.path / "pkg")  # `symphony-assist review` from a subfolder
    primed(capsys, flagging)
    assert hook(capsys).replayed
    (staged.path / "pkg" / "pyproject.toml").write_text('[tool.symphony-assist]\nfail_on = "never"\n')
    run = hook(capsys)
    assert not run.replayed and run.code == 0  # the nearer pyproject.toml decides now


def test_a_repository_without_pyproject_is_replayed(
    git_repo: GitRepo, flagging: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit_files({"pkg/tool.py": "X = 1\n"})
    git_repo.write("pkg/tool.py", RISKY)
    git_repo.add("pkg/tool.py")
    second = primed(capsys, flagging)  # no pyproject.toml: no project root, no project templates folder
    third = hook(capsys)
    assert third.replayed
    assert (third.code, third.out) == (second.code, second.out)


def test_the_attributes_file_git_is_configured_with_ends_the_replay(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    attributes = tmp_path / "attributes"
    attributes.write_text("")
    staged.run("config", "core.attributesFile", str(attributes))
    primed(capsys, flagging)
    assert hook(capsys).replayed
    attributes.write_text("*.py -diff\n")  # every Python file is binary now: skipped
    run = hook(capsys)
    assert not run.replayed and run.code == 0
    assert "pkg/tool.py:5" not in run.out


def test_a_record_that_cannot_be_written_costs_nothing_but_the_replay(
    staged: GitRepo, flagging: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    primed(capsys, flagging)
    [path] = records(tmp_path)
    path.unlink()
    path.mkdir()  # the record's name is taken by a folder: the finished record cannot be moved in
    run = hook(capsys)
    assert (run.replayed, run.code, run.err) == (False, 1, "")  # the review ran; nothing said about it
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    assert main(["cache", "clear"]) == 0  # records are files: the folder is not one of them
    capsys.readouterr()
    assert path.is_dir()


def test_a_recorded_stream_answers_for_the_terminal_behind_it(tmp_path: Path) -> None:
    """Color and encoding decisions made while a run is recorded see the real stream, not the recorder."""
    chunks: list[tuple[bool, str]] = []
    with open(tmp_path / "out.txt", "w", encoding="ascii", errors="replace") as inner:
        tee = recorder._Tee(inner, True, chunks)
        assert (tee.encoding, tee.errors, tee.isatty(), tee.fileno()) == ("ascii", "replace", False, inner.fileno())
        tee.write("caf\u00e9\n")
        tee.flush()
    assert chunks == [(True, "caf\u00e9\n")]  # recorded as written; the file got what its encoding allows
    assert (tmp_path / "out.txt").read_text(encoding="ascii") == "caf?\n"
