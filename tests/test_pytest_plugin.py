"""`pytest --assist` end to end: pytester sessions against the fake OpenAI server on 127.0.0.1.

Inner sessions load the plugin through its pytest11 entry point (the package is installed). Most run
in-process (fast); the ones about loading, imports and process-level volatility run in a subprocess.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import subprocess
import sys
from typing import Any

import pytest
from assist_env import assist_section, point_at, private_cache  # noqa: F401  (private_cache: autouse)
from fakeserver import FakeOpenAI

_ITEM = re.compile(r"^## (\S+)", re.MULTILINE)

CALC = """
def add(a, b):
    total = a - b
    return total


def lookup(table, key):
    return table[key]


def load():
    import not_installed_dependency_xyz

    return not_installed_dependency_xyz
"""

FAILING = """
import pytest
from calc import add, load, lookup


@pytest.fixture
def broken():
    raise RuntimeError("fixture went wrong")


def test_add():
    assert add(2, 3) == 5


def test_lookup():
    assert lookup({"a": 1}, "b") == 1


def test_fixture(broken):
    pass


def test_import():
    load()


def test_green():
    assert add(2, 0) == 2


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False


@pytest.mark.skip(reason="not today")
def test_skip():
    assert False
"""

FAILING_IDS = (
    "test_failing.py::test_add",
    "test_failing.py::test_lookup",
    "test_failing.py::test_fixture (setup)",
    "test_failing.py::test_import",
)


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    """Answer every item of an explain request; the text names the item so a test can find it."""
    user = request["messages"][-1]["content"]
    ids = _ITEM.findall(user)
    return {
        "results": [
            {
                "id": item_id,
                "category": "assertion-mismatch",
                "explanation": f"\x1b[31mexplained {item_id}\x1b]8;;http://evil\x07 by the model",
                "fix": f"fix for {item_id}",
            }
            for item_id in ids
        ]
    }


def _bodies(fake: FakeOpenAI) -> str:
    """The user messages (the items) of every chat request, decoded."""
    return "\n".join(r.body["messages"][-1]["content"] for r in fake.chat_requests)


def _items_sent(fake: FakeOpenAI) -> list[str]:
    """The labels (test ids) of every item sent, in every request."""
    out = []
    for r in fake.chat_requests:
        user = r.body["messages"][-1]["content"]
        out += re.findall(r"^## \S+ (.+)", user, re.MULTILINE)
    return out


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> FakeOpenAI:
    """A fake server with a schema-valid responder and a key generated now."""
    return point_at(monkeypatch, fake_openai, _answer)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(calc=CALC, test_failing=FAILING)
    pytester.syspathinsert()
    return pytester


# ------------------------------------------------------------------------------------------ basics
def test_failures_are_explained_by_the_api_in_one_request(project: pytest.Pytester, env: FakeOpenAI) -> None:
    result = project.runpytest("--assist")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=3, errors=1, xfailed=1, skipped=1)
    section = assist_section(result)
    for test_id in FAILING_IDS:
        assert f"{test_id} [assertion-mismatch] (from the API)" in section
    assert "fix: fix for f" in section
    assert "explained f" in section and "\x1b" not in section and "evil" not in section  # sanitised
    assert "test_green" not in section and "test_xfail" not in section and "test_skip" not in section
    assert re.search(r"cost \$0\.\d{4} · 1 request\(s\) · 0 cache hit\(s\)", section)
    assert len(env.chat_requests) == 1  # four failures packed into one request
    assert sorted(_items_sent(env)) == sorted(t.replace(" (setup)", "") for t in FAILING_IDS)


def test_the_context_holds_introspection_test_source_and_code_under_test(
    project: pytest.Pytester, env: FakeOpenAI
) -> None:
    project.runpytest("--assist", "-k", "test_add or test_import or test_fixture")

    body = env.chat_requests[0].body["messages"][-1]["content"]
    assert "assert -1 == 5" in body and "where -1 = add(2, 3)" in body  # assertion introspection
    assert "def test_add():" in body  # the test's source
    assert "# calc.py (add)" in body and "total = a - b" in body  # the code under test
    assert "No module named 'not_installed_dependency_xyz'" in body  # the import error
    assert "RuntimeError: fixture went wrong" in body and "phase: setup" in body  # the fixture error
    assert str(project.path) not in body  # project-relative paths only


def test_collection_errors_are_explained(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    pytester.makepyfile(
        test_imports="import not_installed_at_all_xyz\n\ndef test_a():\n    pass\n",
        test_syntax="def test_b(:\n    pass\n",
    )
    result = pytester.runpytest("--assist")

    assert result.ret == pytest.ExitCode.INTERRUPTED  # pytest's own status for collection errors
    section = assist_section(result)
    assert "test_imports.py [assertion-mismatch] (from the API)" in section
    assert "test_syntax.py [assertion-mismatch] (from the API)" in section
    body = _bodies(env)
    assert "not_installed_at_all_xyz" in body and "SyntaxError" in body
    assert "phase: collect" in body


def test_a_green_session_is_untouched(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    assert True\n")
    result = pytester.runpytest("--assist")

    assert result.ret == pytest.ExitCode.OK
    assert "= symphony-assist =" not in result.stdout.str()
    assert env.requests == []


def test_teardown_errors_are_explained_and_strict_xpasses_are_not(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    pytester.makepyfile(
        test_phases="""
import pytest


@pytest.fixture
def resource():
    yield 1
    raise OSError("could not release the resource")


def test_uses(resource):
    assert resource == 1


@pytest.mark.xfail(strict=True, reason="should fail")
def test_xpass():
    pass
"""
    )
    result = pytester.runpytest("--assist")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    section = assist_section(result)
    assert "test_phases.py::test_uses (teardown) [assertion-mismatch] (from the API)" in section
    assert "test_xpass" not in section
    assert "phase: teardown" in _bodies(env) and "could not release the resource" in _bodies(env)


def test_ctrl_c_explains_nothing(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    pytester.makepyfile(
        test_stop="""
def test_fails():
    assert 1 == 2


def test_stop():
    raise KeyboardInterrupt
"""
    )
    result = pytester.runpytest("--assist", no_reraise_ctrlc=True)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "session interrupted: nothing explained" in assist_section(result)
    assert env.requests == []


def test_a_failing_doctest_keeps_its_own_report(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    pytester.makepyfile(
        mathutil='''
def double(x):
    """
    >>> double(2)
    5
    """
    return x * 2
'''
    )
    result = pytester.runpytest("--assist", "--doctest-modules", "mathutil.py")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "mathutil.py::mathutil.double [assertion-mismatch] (from the API)" in assist_section(result)
    body = _bodies(env)
    assert "Expected:" in body and "Got:" in body


# ------------------------------------------------------------------------------------------ cache
SLOW_VOLATILE = """
import os, time


def test_volatile(tmp_path):
    started = time.perf_counter()
    message = f"pid={os.getpid()} obj={object()!r} took {time.perf_counter() - started + 0.5:.3f}s in {tmp_path}"
    assert message == "expected"
"""


@pytest.fixture
def lean(monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    """Arguments for a subprocess that loads only pytest-xdist and our plugin, not every installed plugin."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return ("-p", "xdist", "-p", "symphony_assist_hooks.pytest_plugin", "-p", "no:cacheprovider")


def test_the_same_failure_again_costs_nothing(
    pytester: pytest.Pytester, env: FakeOpenAI, lean: tuple[str, ...]
) -> None:
    """Two processes: other PIDs, object addresses, durations and pytest tmp dirs, the same cache keys."""
    pytester.makepyfile(test_volatile=SLOW_VOLATILE)

    first = pytester.runpytest_subprocess(*lean, "--assist")
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    assert "test_volatile.py::test_volatile [assertion-mismatch] (from the API)" in assist_section(first)
    sent = _bodies(env)
    assert "pid=…" in sent and "0x…" in sent and "<duration>" in sent and "<tmp>" in sent
    assert len(env.chat_requests) == 1

    second = pytester.runpytest_subprocess(*lean, "--assist")
    assert second.ret == pytest.ExitCode.TESTS_FAILED
    section = assist_section(second)
    assert "test_volatile.py::test_volatile [assertion-mismatch] (from the cache)" in section
    assert "0 request(s) · 1 cache hit(s)" in section
    assert len(env.chat_requests) == 1  # nothing new reached the server


def test_changed_code_misses_the_cache(project: pytest.Pytester, env: FakeOpenAI) -> None:
    project.runpytest("--assist", "-k", "test_add")
    project.makepyfile(calc=CALC.replace("total = a - b", "total = a * b"))
    result = project.runpytest("--assist", "-k", "test_add")

    assert "(from the API)" in assist_section(result)
    assert len(env.chat_requests) == 2


# ------------------------------------------------------------------------------------------ xdist
def test_under_xdist_each_failure_is_sent_once(
    project: pytest.Pytester, env: FakeOpenAI, lean: tuple[str, ...]
) -> None:
    result = project.runpytest_subprocess(*lean, "--assist", "-n", "2")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    section = assist_section(result)
    for test_id in FAILING_IDS:
        assert section.count(f"{test_id} [") == 1
    assert len(env.chat_requests) == 1
    assert sorted(_items_sent(env)) == sorted(t.replace(" (setup)", "") for t in FAILING_IDS)
    assert "[gw" not in _bodies(env)  # the worker line pytest-xdist adds is not part of the content


# ------------------------------------------------------------------------------------------ limits
def test_max_failures_lists_the_rest(project: pytest.Pytester, env: FakeOpenAI) -> None:
    result = project.runpytest("--assist", "--assist-max-failures", "2")

    section = assist_section(result)
    assert section.count("(from the API)") == 2
    assert "2 failure(s) not explained, in 2 more group(s) (--assist-max-failures 2 counts groups): " in section
    assert "test_import" not in section.split("not explained")[1]  # one short line, ids in the report only
    assert len(_items_sent(env)) == 2


def test_max_failures_from_the_ini_file(project: pytest.Pytester, env: FakeOpenAI) -> None:
    project.makeini("[pytest]\nassist = true\nassist_max_failures = 1\n")
    result = project.runpytest()

    assert assist_section(result).count("(from the API)") == 1
    assert "3 failure(s) not explained, in 3 more group(s) (--assist-max-failures 1" in result.stdout.str()


def test_no_key_gives_local_answers_and_one_line_why(
    project: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    result = project.runpytest("--assist")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    section = assist_section(result)
    assert section.count("(local fallback)") == 4
    assert section.count("local fallback: ") == 1
    assert "local fallback: offline: no API key configured" in section
    assert env.requests == []


def test_a_server_fault_falls_back_and_keeps_the_exit_status(project: pytest.Pytester, env: FakeOpenAI) -> None:
    env.fail(500, times=None)
    result = project.runpytest("--assist")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=3, errors=1, xfailed=1, skipped=1)
    section = assist_section(result)
    assert section.count("(local fallback)") == 4
    assert len(re.findall(r"^local fallback: .+", section, re.MULTILINE)) == 1
    assert env.chat_requests  # it did try


def test_a_spent_budget_falls_back(project: pytest.Pytester, env: FakeOpenAI) -> None:
    result = project.runpytest("--assist", "--assist-max-cost", "0")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert assist_section(result).count("(local fallback)") == 4
    assert env.chat_requests == []


def test_an_internal_fault_is_one_line(project: pytest.Pytester, env: FakeOpenAI) -> None:
    result = project.runpytest("--assist", "--assist-template", "no_such_template")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    section = assist_section(result)
    assert "unknown template 'no_such_template'" in section
    assert env.chat_requests == []


# ------------------------------------------------------------------------------------------ outputs
def test_the_json_report(project: pytest.Pytester, env: FakeOpenAI) -> None:
    result = project.runpytest("--assist", "--assist-report", "out/assist.json", "--assist-max-failures", "3")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = json.loads((project.path / "out" / "assist.json").read_text(encoding="utf-8"))
    assert doc["version"] == 1 and doc["kind"] == "pytest"
    assert [e["test_id"] for e in doc["explanations"]] == list(FAILING_IDS[:3])
    assert {e["source"] for e in doc["explanations"]} == {"api"}
    assert doc["explanations"][0]["path"] == "test_failing.py"
    assert doc["explanations"][0]["line"] == 11  # the failing assert, not the def
    assert "\x1b" not in json.dumps(doc)
    assert doc["not_explained"] == [FAILING_IDS[3]]
    assert doc["summary"]["api_requests"] == 1


def test_an_unwritable_report_is_one_line(project: pytest.Pytester, env: FakeOpenAI) -> None:
    (project.path / "taken").write_text("a file, not a directory")
    result = project.runpytest("--assist", "--assist-report", "taken/assist.json", "-k", "test_add")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    section = assist_section(result)
    assert "(from the API)" in section
    assert "--assist-report not written: " in section


def test_github_annotations(project: pytest.Pytester, env: FakeOpenAI) -> None:
    result = project.runpytest("--assist", "--assist-format", "github", "-k", "test_add")

    assert re.search(r"^::\w+ file=test_failing\.py,line=11", result.stdout.str(), re.MULTILINE)


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("sarif=", "--format 'sarif=' has an empty PATH"),
        ("no_such_format", "no_such_format"),
    ],
)
def test_a_bad_format_is_one_line_after_the_explanations(
    project: pytest.Pytester, env: FakeOpenAI, fmt: str, message: str
) -> None:
    result = project.runpytest("--assist", "--assist-format", fmt, "-k", "test_add")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    section = assist_section(result)
    assert "test_failing.py::test_add [assertion-mismatch] (from the API)" in section
    (line,) = [ln for ln in section.splitlines() if ln.startswith("symphony-assist: not available: ")]
    assert message in line


# ------------------------------------------------------------------------------------------ secrets
def test_secrets_never_reach_the_server(
    pytester: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    alphabet = string.ascii_letters + string.digits
    env_secret = "".join(secrets.choice(alphabet) for _ in range(24))
    token = "gh" + "p_" + "".join(secrets.choice(alphabet) for _ in range(36))
    monkeypatch.setenv("DEPLOY_TOKEN", env_secret)
    pytester.makepyfile(
        test_secret=f"""
import os


def test_env():
    assert os.environ["DEPLOY_TOKEN"] == "expected"


def test_literal():
    token = {token!r}
    assert token == "expected"
"""
    )
    result = pytester.runpytest("--assist")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert assist_section(result).count("(from the API)") == 2
    sent = "\n".join(r.text for r in env.requests)
    assert env.requests and env_secret not in sent and token not in sent
    assert "[REDACTED:env-value]" in sent
    # pytest shows the compared token cut in the middle (`'ghp_…...…'`): neither piece is sent
    assert not [token[i : i + 8] for i in range(len(token) - 7) if token[i : i + 8] in sent]


def test_under_xdist_no_piece_of_a_secret_seen_by_another_worker_is_sent(
    pytester: pytest.Pytester, env: FakeOpenAI, lean: tuple[str, ...]
) -> None:
    """Worker A sees a token whole (in a local), worker B only in the name of its test: the controller
    matches B's text against the pieces A found, with the session's key handed to every worker."""
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(36))
    token = "gh" + "p_" + body
    pytester.makepyfile(
        test_pieces=f"""
import time


def test_a():
    token = {token!r}
    assert token == "expected"


def test_b_{body[:12]}():
    time.sleep(0.2)
    assert 1 == 2
"""
    )
    result = pytester.runpytest_subprocess(*lean, "--assist", "-n", "2")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    sent = _bodies(env)
    assert "def test_b" in sent and "def test_a" in sent
    assert not [token[i : i + 8] for i in range(len(token) - 7) if token[i : i + 8] in sent]


# ------------------------------------------------------------------------------------------ loading
def test_disabled_by_name_makes_assist_unknown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest("-p", "no:symphony_assist", "--assist")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unrecognized arguments: --assist*"])


def test_the_options_and_their_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")

    result.stdout.fnmatch_lines(
        [
            "AI explanations of failing tests (symphony-assist):",
            "*--assist *explain failing tests*",
            "*--assist-template=NAME*",
            "*--assist-max-failures=N*",
            "*--assist-max-cost=USD*",
            "*--assist-report=PATH*",
            "*--assist-format=NAME*",
        ]
    )
    assert pytester.runpytest("--assist-max-failures", "-1").ret == pytest.ExitCode.USAGE_ERROR
    result = pytester.runpytest("--assist-max-failures", "many")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--assist-max-failures*expected a whole number >= 0, got 'many'*"])
    assert pytester.runpytest("--assist-max-cost", "lots").ret == pytest.ExitCode.USAGE_ERROR
    for endless in ("inf", "1e400", "nan"):  # a budget that never ends is a usage error, not a traceback later
        result = pytester.runpytest("--assist-max-cost", endless)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*--assist-max-cost*{endless}*"])


def test_importing_the_entry_module_stays_light() -> None:
    heavy = (
        "openai",
        "pydantic",
        "jinja2",
        "httpx2",
        "httpx",
        "diskcache",
        "symphony_assist_hooks.assistant",
        "symphony_assist_hooks.config",
        "symphony_assist_hooks.explain.requests",
        "symphony_assist_hooks.explain.session",
    )
    code = (
        f"import sys, symphony_assist_hooks.pytest_plugin\nprint(','.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_an_active_green_session_imports_nothing_heavy(
    pytester: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh process with the plugin loaded by module name (autoload off): nothing heavy on a green run."""
    pytester.makeconftest(
        """
import sys

def pytest_unconfigure(config):
    names = ("openai", "pydantic", "jinja2", "httpx2", "symphony_assist_hooks.assistant",
             "symphony_assist_hooks.explain.requests", "symphony_assist_hooks.config", "symphony_assist_hooks.explain.session")
    with open("loaded.txt", "w") as fh:
        fh.write(",".join(n for n in names if n in sys.modules))
"""
    )
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess("-p", "symphony_assist_hooks.pytest_plugin", "--assist")

    assert result.ret == pytest.ExitCode.OK
    assert (pytester.path / "loaded.txt").read_text() == ""


def test_worker_hooks_are_guarded(pytester: pytest.Pytester) -> None:
    """An xdist worker has `workerinput`: it captures context but never explains or prints."""
    from symphony_assist_hooks.pytest_plugin import AssistPlugin

    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    config = pytester.parseconfig("--assist")
    config.workerinput = {"workerid": "gw0"}  # type: ignore[attr-defined]
    plugin = AssistPlugin(config)
    plugin.failures.append({"test_id": "t", "when": "call"})
    plugin.pytest_sessionfinish()
    assert plugin.result is None and plugin.lines == []


def test_the_session_key_is_handed_to_every_worker(pytester: pytest.Pytester) -> None:
    """pytest-xdist calls `pytest_configure_node` on the controller for each worker: every worker keys the
    digests of the secrets' pieces it finds with the controller's key, else the controller matches none."""
    from types import SimpleNamespace

    from symphony_assist_hooks.pytest_plugin import KEY_INPUT, AssistPlugin

    controller = AssistPlugin(pytester.parseconfig("--assist"))
    node = SimpleNamespace(workerinput={"workerid": "gw0"})
    controller.pytest_configure_node(node)
    worker_config = pytester.parseconfig("--assist")
    worker_config.workerinput = node.workerinput  # type: ignore[attr-defined]
    assert AssistPlugin(worker_config).key == controller.key

    worker_config.workerinput = {"workerid": "gw1", KEY_INPUT: "not hex"}  # type: ignore[attr-defined]
    own = AssistPlugin(worker_config).key
    assert len(own) == 16 and own != controller.key  # a key of its own, never a crash


def test_a_collection_error_reported_by_every_worker_is_kept_once(pytester: pytest.Pytester) -> None:
    from symphony_assist_hooks.pytest_plugin import AssistPlugin

    plugin = AssistPlugin(pytester.parseconfig("--assist"))
    for _worker in range(2):
        report = pytest.CollectReport("test_broken.py", "failed", "ImportError: no module named x", [])
        plugin.pytest_collectreport(report)
    assert [(f["test_id"], f["when"]) for f in plugin.failures] == [("test_broken.py", "collect")]


def test_a_fault_while_capturing_still_explains_the_failure_from_pytest_s_report(
    project: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    # the module the inner session imports (a previous inner session's import may have been dropped)
    monkeypatch.setattr(importlib.import_module("symphony_assist_hooks.explain.session"), "capture_failure", broken)
    result = project.runpytest("--assist", "-k", "test_add")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "test_failing.py::test_add [assertion-mismatch] (from the API)" in assist_section(result)
    body = _bodies(env)
    assert "assert -1 == 5" in body  # pytest's own text of the failure
    assert "--- test source ---" not in body and "total = a - b" not in body  # no context beyond it


# ------------------------------------------------------------------------------------------ groups and blame
PRICES = """
def net(price, rate):
    discount = price * rate
    return price + discount
"""

ONE_BUG = """
import pytest
from prices import net


@pytest.mark.parametrize("price", range(100))
def test_net(price):
    assert net(price + 1, 0.5) == (price + 1) / 2


@pytest.mark.parametrize("price", range(40))
def test_net_whole(price):
    value = net(price + 10, 0.1)
    assert value == pytest.approx((price + 10) * 0.9)


@pytest.mark.parametrize("rate", range(10))
def test_net_zero(rate):
    assert net(5, rate / 10 + 0.1) < 5
"""


def _git_project(pytester: pytest.Pytester) -> None:
    from gitrepo import GitRepo

    pytester.makepyfile(prices=PRICES.replace("price + discount", "price - discount"), test_prices=ONE_BUG)
    pytester.syspathinsert()
    repo = GitRepo(pytester.path)
    repo.run("add", "-A")
    repo.run("commit", "-qm", "prices")
    pytester.makepyfile(prices=PRICES)  # the bug: `price + discount` was `price - discount` at HEAD


def test_150_failures_from_one_bug_are_one_blamed_group(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    _git_project(pytester)
    report = pytester.path / "assist.json"
    result = pytester.runpytest("--assist", f"--assist-report={report}")

    result.assert_outcomes(failed=150)
    section = assist_section(result)
    assert section.count("(from the API)") == 1  # one group, explained once
    assert "× 150 in 3 tests: test_net, test_net_whole, test_net_zero (full list in --assist-report)" in section
    assert "code: prices.py:3 in net (changed since HEAD)" in section
    assert ">     3 | return price + discount" in section
    assert max(len(line) for line in result.outlines) <= 300
    assert len(_items_sent(env)) == 1
    sent = _bodies(env)
    # the model sees the suspect function with the changed line marked and the diff that changed it
    assert ">> " in sent and "return price + discount" in sent
    assert "-    return price - discount" in sent and "+    return price + discount" in sent
    doc = json.loads(report.read_text(encoding="utf-8"))
    (group,) = doc["groups"]
    assert group["size"] == 150 and len(group["members"]) == 150
    assert group["suspects"][0]["func"] == "net" and group["suspects"][0]["changed"] == [3]


def test_offline_blame_points_at_the_code_not_the_test(
    pytester: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    pytester.makepyfile(prices=PRICES, test_prices=ONE_BUG)  # no git: the dataflow walk alone
    pytester.syspathinsert()
    result = pytester.runpytest("--assist", "-k", "test_net and not whole and not zero")

    section = assist_section(result)
    assert "× 100 in 1 test: test_net" in section
    assert "Prime suspect: `net` at prices.py:3" in section
    assert "Fix the code, not the test" in section
    assert "code: prices.py:3 in net (returned the value the test checks)" in section
    assert "      2 | discount = price * rate" in section  # the assignment feeding the returned value
    for banned in ("pytest.raises", "update the expected", "fix the test"):
        assert banned not in section


def test_different_bugs_stay_in_different_groups(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    pytester.makepyfile(
        shop="def total(xs):\n    return sum(xs) + 1\n\n\ndef first(xs):\n    return xs[1]\n",
        test_shop="""
        import pytest
        from shop import first, total

        @pytest.mark.parametrize("n", range(3))
        def test_total(n):
            assert total([n]) == n

        def test_first():
            assert first([1, 2]) == 1

        def test_first_empty():
            with pytest.raises(IndexError):
                first([])
        """,
    )
    pytester.syspathinsert()
    result = pytester.runpytest("--assist", "--assist-max-failures", "1")

    section = assist_section(result)
    assert section.count("(from the API)") == 1
    assert "× 3 in 1 test: test_total" in section
    assert "1 failure(s) not explained, in 1 more group(s) (--assist-max-failures 1 counts groups)" in section
