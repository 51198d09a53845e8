"""The hooks through the real pre-commit framework (`pre-commit try-repo`) and as plain git hooks."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_secrets import make
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from responders import answering, finding, numbered_lines

from symphony_assist_hooks.cli import main
from symphony_assist_hooks.precommit import range_from_env

ROOT = Path(__file__).resolve().parent.parent
RISKY = 'import os\n\n\ndef clean(path):\n    os.system("rm -rf " + path)\n'


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache for the session: the hook's environment is built once, not per test."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture(scope="session")
def pip_cache() -> str:
    return os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")


def _pre_commit(repo: GitRepo, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or "pre-commit"
    return subprocess.run(
        [exe, *args], cwd=repo.path, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture
def hook_env(fake_openai: FakeOpenAI, tmp_path: Path, pre_commit_home: Path, pip_cache: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PRE_COMMIT_HOME=str(pre_commit_home),
        PIP_CACHE_DIR=pip_cache,
        PRE_COMMIT_COLOR="never",
        OPENAI_API_KEY="sk-test-" + secrets.token_hex(16),
        OPENAI_BASE_URL=fake_openai.url,
        SYMPHONY_ASSIST_CACHE_DIR=str(tmp_path / "hook-cache"),
        SYMPHONY_ASSIST_TIMEOUT="5",
    )
    return env


def _flag_system(item_id: str, label: str, content: str) -> list[dict[str, object]]:
    return [
        finding(local, rule="command-injection", severity="critical", checklist="security",
                title="os.system with user input")
        for local, added, text in numbered_lines(content)
        if added and "os.system" in text
    ]  # fmt: skip


@pytest.mark.slow
def test_try_repo_end_to_end(
    git_repo: GitRepo, fake_openai: FakeOpenAI, hook_env: dict[str, str], closed_port_url: str
) -> None:
    manifest = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert manifest.returncode == 0, manifest.stdout + manifest.stderr
    fake = make("aws-access-key-id", random.Random(7))
    git_repo.commit_files({"README.md": "demo\n"})
    git_repo.write("tool.py", RISKY + f"\nAWS = {fake.text!r}\n")
    git_repo.add("tool.py")
    fake_openai.responder = answering(findings=_flag_system)

    first = _pre_commit(git_repo, ["try-repo", str(ROOT), "symphony-assist", "--verbose"], hook_env)
    out = first.stdout + first.stderr
    assert first.returncode == 1, out
    assert "tool.py:5: critical [bandit/B605]" in out and "+ api command-injection)" in out  # merged
    assert "tool.py:7: critical [secret]" in out
    asked = len(fake_openai.chat_requests)
    assert asked == 1
    sent = "".join(r.text for r in fake_openai.requests)
    assert all(value not in sent for value in fake.secrets)

    again = _pre_commit(git_repo, ["try-repo", str(ROOT), "symphony-assist", "--verbose"], hook_env)
    assert again.returncode == 1
    assert len(fake_openai.chat_requests) == asked  # the second attempt costs no tokens

    # the network gone: the commit is not blocked by the service, only by what local analyzers find
    git_repo.write("tool.py", "def ok(x):\n    return x + 1\n")
    git_repo.add("tool.py")
    down = dict(hook_env, OPENAI_BASE_URL=closed_port_url)
    offline = _pre_commit(git_repo, ["try-repo", str(ROOT), "symphony-assist", "--verbose"], down)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert "local analyzers answered" in offline.stdout + offline.stderr

    # pre-push: the range pre-commit names (from-ref/to-ref)
    base = git_repo.head()
    git_repo.commit_files({"more.py": RISKY})
    pushed = _pre_commit(
        git_repo,
        [
            "try-repo",
            str(ROOT),
            "symphony-security",
            "--verbose",
            "--hook-stage",
            "pre-push",
            "--from-ref",
            base,
            "--to-ref",
            "HEAD",
        ],
        hook_env,
    )
    assert pushed.returncode == 1, pushed.stdout + pushed.stderr
    assert "more.py:5" in pushed.stdout


def _snapshot(dest: Path) -> str:
    """This working tree (committed or not, ignored files left out) as a git repository of its own, for
    a `.pre-commit-config.yaml` to point at (what `try-repo` does for itself); its commit id."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    for rel in filter(None, listed.decode().split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    repo = GitRepo(dest)
    repo.add()
    return repo.commit("snapshot")


@pytest.mark.slow
def test_git_commit_through_pre_commit_install(
    git_repo: GitRepo, fake_openai: FakeOpenAI, hook_env: dict[str, str], closed_port_url: str, tmp_path: Path
) -> None:
    """Issue #3's "done when", literally: `pre-commit install`, then `git commit` three times."""
    source = tmp_path / "symphony-assist-src"
    rev = _snapshot(source)
    config = f"repos:\n- repo: {source}\n  rev: {rev}\n  hooks:\n  - id: symphony-assist\n    verbose: true\n"
    git_repo.commit_files({"README.md": "demo\n", ".pre-commit-config.yaml": config})
    installed = _pre_commit(git_repo, ["install"], hook_env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    fake = make("github-pat-classic", random.Random(11))
    git_repo.write("tool.py", RISKY + f"\nTOKEN = {fake.text!r}\n")
    git_repo.add("tool.py")
    fake_openai.responder = answering(findings=_flag_system)

    def commit(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "commit", "-m", "change"], cwd=git_repo.path, env=env, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip

    first = commit(hook_env)
    out = first.stdout + first.stderr
    assert first.returncode != 0, out  # blocked
    assert "tool.py:5: critical [bandit/B605]" in out and "+ api command-injection)" in out  # merged
    assert "tool.py:7: critical [secret]" in out
    assert len(fake_openai.chat_requests) == 1
    sent = "".join(r.text for r in fake_openai.requests)
    assert all(value not in sent for value in fake.secrets)

    again = commit(hook_env)  # the same staged changes: no tokens, and the result is kept (replay.py)
    assert again.returncode != 0
    assert "tool.py:5: critical [bandit/B605]" in again.stdout + again.stderr
    assert len(fake_openai.chat_requests) == 1
    third = commit(hook_env)
    assert third.returncode != 0 and len(fake_openai.chat_requests) == 1
    assert list((Path(hook_env["SYMPHONY_ASSIST_CACHE_DIR"]) / "replay").iterdir())

    git_repo.write("tool.py", "def ok(x):\n    return x + 1\n")  # fixed; and the network is gone
    git_repo.add("tool.py")
    down = commit(dict(hook_env, OPENAI_BASE_URL=closed_port_url))
    out = down.stdout + down.stderr
    assert down.returncode == 0, out
    assert "local analyzers answered" in out
    assert git_repo.run("log", "--oneline").count("\n") == 2


def _looks_fine(item_id: str, label: str, content: str) -> list[dict[str, object]]:
    """A model that was talked out of every finding: one info note on the first added line."""
    first = next(local for local, added, _ in numbered_lines(content) if added)
    return [finding(first, rule="review", severity="info", checklist="security", title="looks fine")]


SHELL_AND_PICKLE = (
    "import pickle\nimport subprocess\n\n\ndef run(user_input, data):\n"
    "    subprocess.call(user_input, shell=True)\n    return pickle.loads(data)\n"
)


@pytest.mark.slow
def test_a_key_never_weakens_the_commit_gate_and_passing_findings_are_shown(
    git_repo: GitRepo, fake_openai: FakeOpenAI, hook_env: dict[str, str], tmp_path: Path
) -> None:
    """#18 through `pre-commit install` and `git commit`, with the manifest's own `verbose` (not the user's)."""
    source = tmp_path / "symphony-assist-src"
    rev = _snapshot(source)
    config = f"repos:\n- repo: {source}\n  rev: {rev}\n  hooks:\n  - id: symphony-assist\n"
    git_repo.commit_files({"README.md": "demo\n", ".pre-commit-config.yaml": config})
    installed = _pre_commit(git_repo, ["install"], hook_env)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    def commit() -> tuple[int, str]:
        done = subprocess.run(
            ["git", "commit", "-m", "change"], cwd=git_repo.path, env=hook_env, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
        return done.returncode, done.stdout + done.stderr

    # a key, and a model answering "looks fine": the analyzers' findings still block, both of them
    fake_openai.responder = answering(findings=_looks_fine)
    git_repo.write("job.py", SHELL_AND_PICKLE)
    git_repo.add("job.py")
    code, out = commit()
    assert code != 0, out
    assert len(fake_openai.chat_requests) == 1  # the model was asked, and answered
    assert "job.py:6: high [bandit/B602]" in out
    assert "job.py:7: medium [bandit/B301]" in out
    assert git_repo.run("log", "--oneline").count("\n") == 1

    # a finding below --fail-on (high): the commit passes and the finding is in git commit's output
    git_repo.write("job.py", "import pickle\n\n\ndef load(data):\n    return pickle.loads(data)\n")
    git_repo.add("job.py")
    code, out = commit()
    assert code == 0, out
    assert "job.py:5: medium [bandit/B301]" in out
    assert "symphony-assist:" not in out  # one line per finding, no summary banner
    assert git_repo.run("log", "--oneline").count("\n") == 2

    # nothing worth a line (the model's info note "looks fine" is not): the hook prints nothing of its own
    git_repo.write("job.py", "def ask():\n    return int(input())\n")
    git_repo.add("job.py")
    code, out = commit()
    assert code == 0, out
    assert "job.py:" not in out and "symphony-assist:" not in out and "nothing to review" not in out, out
    assert "- hook id: symphony-assist" in out  # pre-commit's own two verbose lines are all there is


def test_range_from_env() -> None:
    assert range_from_env({}) is None
    assert range_from_env({"PRE_COMMIT_FROM_REF": "abc", "PRE_COMMIT_TO_REF": "def"}) == "abc...def"
    assert range_from_env({"PRE_COMMIT_FROM_REF": "0" * 40, "PRE_COMMIT_TO_REF": "def"}) == "def~1..def"


def test_pre_commit_flag_reviews_the_pushed_range(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "c"))
    base = git_repo.commit_files({"a.txt": "a\n"})
    git_repo.commit_files({"tool.py": RISKY})
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", base)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", git_repo.head())
    assert main(["review", "--pre-commit", "--format", "json"]) == 1
    assert "tool.py" in capsys.readouterr().out


def test_install_hook_and_plain_git_commit(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    git_repo.commit_files({"a.txt": "a\n"})
    assert main(["install-hook", "--pre-push"]) == 0
    hook = git_repo.path / ".git" / "hooks" / "pre-commit"
    assert hook.is_file()
    assert os.access(hook, os.X_OK)
    assert (git_repo.path / ".git" / "hooks" / "pre-push").is_file()
    assert main(["install-hook"]) == 0  # idempotent
    # a foreign hook is never overwritten silently
    hook.write_text("#!/bin/sh\nexit 0\n")
    assert main(["install-hook"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["install-hook", "--force"]) == 0
    assert (hook.parent / "pre-commit.orig").read_text() == "#!/bin/sh\nexit 0\n"
    # the plain hook blocks a commit with a critical local finding (no key: local analyzers)
    git_repo.write("tool.py", RISKY)
    git_repo.add("tool.py")
    blocked = git_repo.run("commit", "-m", "risky", check=False)
    assert "HEAD" not in blocked
    assert git_repo.run("log", "--oneline").count("\n") == 1
    git_repo.write("tool.py", "def fine(x):\n    return x\n")
    git_repo.add("tool.py")
    git_repo.run("commit", "-m", "fine")
    assert git_repo.run("log", "--oneline").count("\n") == 2


def test_commit_all_reviews_the_temporary_index(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`git commit -a` points GIT_INDEX_FILE at a temporary index: the hook must see those changes."""
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    git_repo.commit_files({"tool.py": "def fine(x):\n    return x\n"})
    assert main(["install-hook"]) == 0
    git_repo.write("tool.py", RISKY)  # modified but NOT staged: only `commit -a` stages it
    git_repo.run("commit", "-a", "-m", "risky", check=False)
    assert git_repo.run("log", "--oneline").count("\n") == 1
