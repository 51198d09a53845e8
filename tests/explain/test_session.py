"""`explain/session.py`, pytest's side of `pytest --assist`: what a failure of a given shape captures
(code under test, suspects, secrets), the ini options, and the section. In-process pytester sessions
against the fake OpenAI server (the plugin loads through its pytest11 entry point)."""

from __future__ import annotations

import importlib
import json
import re
import secrets
import string
from typing import Any

import pytest
from assist_env import assist_section, point_at, private_cache  # noqa: F401  (private_cache: autouse)
from fakeserver import FakeOpenAI

_ITEM = re.compile(r"^## (\S+)", re.MULTILINE)


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    ids = _ITEM.findall(request["messages"][-1]["content"])
    return {
        "results": [
            {"id": i, "category": "assertion-mismatch", "explanation": f"explained {i}", "fix": f"fix {i}"} for i in ids
        ]
    }


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> FakeOpenAI:
    """A fake server with a schema-valid responder and a key generated now."""
    return point_at(monkeypatch, fake_openai, _answer)


def _bodies(fake: FakeOpenAI) -> str:
    return "\n".join(r.body["messages"][-1]["content"] for r in fake.chat_requests)


def _module(name: str) -> Any:
    """The module the inner session will use: the one in sys.modules (pytester drops what a previous inner
    session imported, so a package attribute can still point at a module object no longer used)."""
    return importlib.import_module(name)


def _groups(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, list[dict[str, Any]]]:
    """Run `--assist` with a JSON report; the result and the report's groups (their suspects)."""
    report = pytester.path / "assist.json"
    result = pytester.runpytest("--assist", f"--assist-report={report}", *args)
    return result, json.loads(report.read_text(encoding="utf-8"))["groups"]


# ------------------------------------------------------------------------------------------ code under test
def test_an_error_raised_in_the_standard_library_is_blamed_on_the_project_code_calling_it(
    pytester: pytest.Pytester, env: FakeOpenAI
) -> None:
    pytester.makepyfile(
        conf="import json\n\n\ndef parse_config(text):\n    cleaned = text.strip()\n    return json.loads(cleaned)\n",
        test_conf="from conf import parse_config\n\n\ndef test_parse():\n    assert parse_config('{port: 1}') == {}\n",
    )
    pytester.syspathinsert()
    result, groups = _groups(pytester)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (suspect,) = groups[0]["suspects"]
    assert (suspect["path"], suspect["func"], suspect["line"]) == ("conf.py", "parse_config", 6)
    assert suspect["why"] == "raised here" and suspect["lines"] == [5, 6]  # the call, and what fed it
    assert "code: conf.py:6 in parse_config (raised here)" in assist_section(result)
    assert "json/decoder.py" not in _bodies(env).split("--- suspect code")[1]  # the stdlib is not a suspect


def test_an_error_at_import_time_of_a_project_module_shows_the_lines_around_it(
    pytester: pytest.Pytester, env: FakeOpenAI
) -> None:
    settings = "\n".join(f"NAME_{i} = {i}" for i in range(20)) + '\nPORT = int("eighty")\nHOST = "localhost"\n'
    pytester.makepyfile(settings=settings, test_settings="def test_port():\n    import settings\n")
    pytester.syspathinsert()
    result, groups = _groups(pytester)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert groups[0]["suspects"] == []  # module-level code is no function to blame
    body = _bodies(env)
    code = body.split("--- code under test ---\n")[1]
    assert code.startswith("# settings.py (<module>)\nNAME_10 = 10")  # ten lines above the failing one
    assert 'PORT = int("eighty")\nHOST = "localhost"' in code
    assert "NAME_9 = 9" not in code


def test_a_generated_test_without_source_is_still_explained(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    pytester.makepyfile(
        calc="def double(x):\n    return x + x + 1\n",
        test_gen='from calc import double\n\nexec("def test_generated():\\n    assert double(2) == 4, double(2)\\n")\n',
    )
    pytester.syspathinsert()
    result = pytester.runpytest("--assist")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "test_gen.py::test_generated [assertion-mismatch] (from the API)" in assist_section(result)
    body = _bodies(env)
    assert "AssertionError: 5" in body  # what pytest knows: the message, no rewritten introspection
    assert "--- test source ---" not in body  # nothing made up for a test whose source is not on disk


def test_a_failure_in_a_loop_blames_the_function_its_header_calls(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    pytester.makepyfile(
        ports='def open_ports(spec):\n    parts = spec.split(",")\n    return [int(p) - 1 for p in parts]\n',
        test_ports="""
from ports import open_ports


def test_ports_are_positive():
    for port in open_ports("1,2"):
        assert port > 0
""",
    )
    pytester.syspathinsert()
    _result, groups = _groups(pytester)

    (suspect,) = groups[0]["suspects"]
    assert (suspect["func"], suspect["why"], suspect["line"]) == ("open_ports", "returned the value the test checks", 3)
    assert suspect["lines"] == [2, 3]


def test_a_function_called_in_a_statement_spanning_lines_is_a_suspect(
    pytester: pytest.Pytester, env: FakeOpenAI
) -> None:
    """`value = f(\\n  args)` feeding `assert value == y`: f is what the test checks (black writes such calls)."""
    pytester.makepyfile(
        calc="def mean(values):\n    total = sum(values)\n    return total / (len(values) + 1)\n",
        test_calc="""
from calc import mean


def test_mean():
    value = mean(
        [1, 2, 3],
    )
    assert value == 2
""",
    )
    pytester.syspathinsert()
    _result, groups = _groups(pytester)

    (suspect,) = groups[0]["suspects"]
    assert (suspect["func"], suspect["line"]) == ("mean", 3)


# ------------------------------------------------------------------------------------------ resolving the calls
CART = """
import functools


class Cart:
    def __init__(self, prices):
        self.prices = prices
        self.pricer = lambda n: n

    def total(self):
        return sum(self.prices) * 2

    @classmethod
    def of(cls, *prices):
        return cls(list(prices))


make_cart = functools.partial(Cart, [1, 2])
"""


@pytest.mark.parametrize(
    ("statement", "funcs"),
    [
        ("Cart([1, 2]).total()", ["Cart.total", "Cart.__init__"]),  # the method of the instance just made
        ("make_cart().total()", ["Cart.total"]),  # made by a partial of the class
        ("Cart.of(1, 2).prices[0]", ["Cart.of"]),  # a classmethod; what it returns is not guessed
        ("Cart([1]).pricer(3)", ["Cart.__init__"]),  # an instance attribute: nothing runs to find it
    ],
)
def test_the_project_functions_called_in_the_failing_assert_are_the_suspects(
    pytester: pytest.Pytester, env: FakeOpenAI, statement: str, funcs: list[str]
) -> None:
    pytester.makepyfile(
        cart=CART, test_cart=f"from cart import Cart, make_cart\n\n\ndef test_it():\n    assert {statement} == 0\n"
    )
    pytester.syspathinsert()
    result, groups = _groups(pytester)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    suspects = groups[0]["suspects"]
    assert [s["func"] for s in suspects] == funcs
    assert {s["why"] for s in suspects} == {"returned the value the test checks"}


HELPERS = (
    "\n\ndef fail(text):\n    raise ValueError(text)\n"
    '\n\ndef stop(text) -> "NoReturn":\n    import sys\n\n    sys.exit(text)\n'
    "\n\ndef log(text):\n    print(text)\n"
)


@pytest.mark.parametrize(
    ("check", "line", "shown"),
    [
        ("    if value < -1:\n        raise ValueError(text)\n", 3, "if value < -1:"),  # the wrong guard
        ("    if value < -1:\n        fail(text)\n", 3, "if value < -1:"),  # through a helper that raises
        ("    if value < -1:\n        stop(text)\n", 3, "if value < -1:"),  # through one annotated NoReturn
        ("    if value < -1:\n        log(text)\n", 5, "return value"),  # a helper that returns: no guard
        ("", 3, "return value"),  # no check at all: what it returned instead
    ],
)
def test_a_block_that_did_not_raise_blames_the_code_it_ran(
    pytester: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, check: str, line: int, shown: str
) -> None:
    """`with pytest.raises(E): f(x)` fails at the `with` line: the block's calls are the suspects, and in
    them the conditions in front of their `raise`s (or their returns when they never raise)."""
    monkeypatch.setenv("SYMPHONY_ASSIST_OFFLINE", "1")
    pytester.makepyfile(
        ages=f"def parse_age(text):\n    value = int(text)\n{check}    return value\n{HELPERS}",
        test_ages=(
            "import pytest\nfrom ages import parse_age\n\n\ndef test_negative():\n"
            "    with pytest.raises(ValueError):\n        parse_age('-1')\n"
        ),
    )
    pytester.syspathinsert()
    result, groups = _groups(pytester)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    [suspect] = groups[0]["suspects"]
    assert (suspect["func"], suspect["why"], suspect["line"]) == ("parse_age", "ran without raising", line)
    said = " ".join(result.stdout.str().split())  # the section wraps at the terminal's width
    assert f"Prime suspect: `parse_age` at ages.py:{line} `{shown}` (`parse_age` ran without raising" in said
    assert "make it raise what `test_negative` expects for this input" in said


def test_what_the_block_ran_comes_before_what_fed_it(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    """itsdangerous: `signed = s.dumps(v)` then `with pytest.raises(BadSignature): s.loads(tampered)`: the
    call that should have raised is the prime suspect, the one that made its input comes next."""
    pytester.makepyfile(
        codec="def dumps(value):\n    return f'{value}.sig'\n\n\ndef loads(text):\n    return text.split('.')[0]\n",
        test_codec="import pytest\nfrom codec import dumps, loads\n\n\ndef test_tampered():\n"
        "    signed = dumps(12)\n    with pytest.raises(ValueError):\n        loads(signed[:-1])\n",
    )
    pytester.syspathinsert()
    result, groups = _groups(pytester)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [(s["func"], s["why"]) for s in groups[0]["suspects"]] == [
        ("loads", "ran without raising"),
        ("dumps", "ran without raising"),
    ]


def test_a_test_inherited_from_another_module_is_still_the_test_not_a_suspect(
    pytester: pytest.Pytester, env: FakeOpenAI
) -> None:
    """itsdangerous' test_timed.py subclasses test_serializer.py's test class: the failing frame is in the
    base's file, which is test code all the same; the function it called is the suspect."""
    pytester.makepyfile(
        calc="def total(xs):\n    return sum(xs) + 1\n",
        test_base="from calc import total\n\n\nclass TestBase:\n    def test_total(self):\n"
        "        assert total([1, 2]) == 3\n",
        test_child="from test_base import TestBase\n\n\nclass TestChild(TestBase):\n    pass\n",
    )
    pytester.syspathinsert()
    result, groups = _groups(pytester, "test_child.py")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [(s["path"], s["func"], s["why"]) for s in groups[0]["suspects"]] == [
        ("calc.py", "total", "returned the value the test checks")
    ]


def test_a_call_in_a_loop_header_over_several_lines_feeding_the_assert_is_a_suspect(
    pytester: pytest.Pytester, env: FakeOpenAI
) -> None:
    pytester.makepyfile(
        shop="def prices(*names):\n    return [len(n) for n in names]\n",
        test_shop=(
            "from shop import prices\n\n\ndef test_last():\n"
            "    for price in prices(\n        'tea',\n        'coffee',\n    ):  # one each\n\n"
            "        # the last one wins\n        last = price\n    assert last == 3\n"
        ),
    )
    pytester.syspathinsert()
    result, groups = _groups(pytester)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [(s["func"], s["line"]) for s in groups[0]["suspects"]] == [("prices", 2)]


def test_a_name_the_test_calls_that_does_not_exist_is_no_suspect(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    pytester.makepyfile(cart=CART, test_cart="import cart\n\n\ndef test_it():\n    assert cart.checkout() == 0\n")
    pytester.syspathinsert()
    result, groups = _groups(pytester)

    assert "test_cart.py::test_it [assertion-mismatch] (from the API)" in assist_section(result)
    assert groups[0]["suspects"] == []
    assert "has no attribute 'checkout'" in _bodies(env)


def test_a_changed_method_called_on_the_way_is_the_prime_suspect(pytester: pytest.Pytester, env: FakeOpenAI) -> None:
    from gitrepo import GitRepo

    invoice = """
class Invoice:
    def __init__(self, lines):
        self.lines = lines

    def total(self):
        net = self._net()
        return net

    def _net(self):
        return sum(self.lines)
"""
    pytester.makepyfile(
        invoice=invoice,
        test_invoice="from invoice import Invoice\n\n\ndef test_total():\n    assert Invoice([1, 2]).total() == 3\n",
    )
    pytester.syspathinsert()
    repo = GitRepo(pytester.path)
    repo.run("add", "-A")
    repo.run("commit", "-qm", "invoice")
    pytester.makepyfile(invoice=invoice.replace("sum(self.lines)", "sum(self.lines) * 2"))  # the bug
    result, groups = _groups(pytester)

    suspects = groups[0]["suspects"]
    assert [(s["func"], s["why"]) for s in suspects] == [
        ("Invoice._net", "changed since HEAD"),
        ("Invoice.total", "returned the value the test checks"),
        ("Invoice.__init__", "returned the value the test checks"),
    ]
    line = (pytester.path / "invoice.py").read_text().splitlines().index("        return sum(self.lines) * 2") + 1
    assert suspects[0]["changed"] == [line]
    assert f"code: invoice.py:{line} in Invoice._net (changed since HEAD)" in assist_section(result)
    assert "+        return sum(self.lines) * 2" in _bodies(env)


# ------------------------------------------------------------------------------------------ where the failure is
def test_an_error_in_a_conftest_fixture_points_at_the_test_and_shows_the_fixture(
    pytester: pytest.Pytester, env: FakeOpenAI
) -> None:
    pytester.makeconftest(
        "import pytest\n\n\n@pytest.fixture\ndef db():\n    url = 'sqlite://'\n    raise ConnectionError(url)\n"
    )
    pytester.makepyfile(test_db="import os\n\n\ndef test_query(db):\n    assert os.environ\n")
    result, groups = _groups(pytester)

    assert "test_db.py::test_query (setup) [assertion-mismatch] (from the API)" in assist_section(result)
    doc = json.loads((pytester.path / "assist.json").read_text(encoding="utf-8"))
    assert (doc["explanations"][0]["path"], doc["explanations"][0]["line"]) == ("test_db.py", 4)  # the test's def
    assert "# conftest.py (db)" in _bodies(env)
    assert [(s["func"], s["line"]) for s in groups[0]["suspects"]] == [("db", 7)]


def test_a_test_outside_the_rootdir_is_explained_without_code_under_test(
    pytester: pytest.Pytester, env: FakeOpenAI
) -> None:
    (pytester.path / "sub").mkdir()
    pytester.makepyfile(test_out="def test_out():\n    assert 1 == 2\n")
    result = pytester.runpytest("--assist", "--rootdir=sub", "test_out.py")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "::test_out [assertion-mismatch] (from the API)" in assist_section(result)  # pytest's id outside the rootdir
    body = _bodies(env)
    assert "def test_out():" in body and "--- code under test ---" not in body


# ------------------------------------------------------------------------------------------ ini options
FAILING = "def test_one():\n    assert 1 == 2\n"


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("assist_max_failures = many", "ini assist_max_failures = 'many': expected a whole number >= 0"),
        ("assist_max_failures = -2", "ini assist_max_failures = '-2': expected a whole number >= 0"),
        (
            "assist_max_cost = cheap",
            "ini assist_max_cost = 'cheap': expected an amount in USD from 0 to 1000000, such as 0.25",
        ),
        (
            "assist_max_cost = inf",
            "ini assist_max_cost = 'inf': expected an amount in USD from 0 to 1000000, such as 0.25",
        ),
    ],
)
def test_a_bad_ini_value_is_one_line_and_keeps_the_exit_status(
    pytester: pytest.Pytester, env: FakeOpenAI, ini: str, message: str
) -> None:
    pytester.makeini(f"[pytest]\nassist = true\n{ini}\n")
    pytester.makepyfile(test_one=FAILING)
    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert f"not available: ValueError: {message}" in assist_section(result)
    assert env.requests == []


def test_the_ini_budget_ranks_below_the_environment(
    pytester: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nassist = true\nassist_max_cost = $0\n")
    pytester.makepyfile(test_one=FAILING)

    spent = pytester.runpytest()
    assert "test_one.py::test_one [" in assist_section(spent) and "(local fallback)" in assist_section(spent)
    assert env.chat_requests == []

    monkeypatch.setenv("SYMPHONY_ASSIST_BUDGET_RUN", "0.5")
    allowed = pytester.runpytest()
    assert "test_one.py::test_one [assertion-mismatch] (from the API)" in assist_section(allowed)
    assert len(env.chat_requests) == 1


# ------------------------------------------------------------------------------------------ the section
def test_a_crashing_classifier_is_noticed_in_the_section(
    pytester: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(failure: Any, root: Any = None) -> dict[str, str]:
        raise RuntimeError("bug")

    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setattr(_module("symphony_assist_hooks.explain.requests"), "local_explanation", crash)
    pytester.makepyfile(test_one=FAILING)
    result = pytester.runpytest("--assist")

    section = assist_section(result)
    assert "test_one.py::test_one [other] (local fallback)" in section
    assert "local classifier failed (RuntimeError): minimal answers given" in section


# ------------------------------------------------------------------------------------------ secrets
def _token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "gh" + "p_" + "".join(secrets.choice(alphabet) for _ in range(36))


def _pieces_sent(token: str, fake: FakeOpenAI) -> list[str]:
    sent = "\n".join(r.text for r in fake.requests)
    return [token[i : i + 8] for i in range(len(token) - 7) if token[i : i + 8] in sent]


def test_a_piece_of_a_secret_held_in_bytes_is_not_sent(
    pytester: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _token()
    monkeypatch.setenv("PAYLOAD_SEED", token)  # no secret-like name: only the token's shape gives it away
    pytester.makepyfile(
        test_payload="""
import os


def test_header():
    payload = b"Token " + os.environ["PAYLOAD_SEED"].encode()
    assert payload[:20] == b"Bearer"
"""
    )
    result = pytester.runpytest("--assist")

    assert "test_payload.py::test_header [assertion-mismatch] (from the API)" in assist_section(result)
    assert token[:14] in result.stdout.str()  # pytest itself shows the piece
    assert env.chat_requests and _pieces_sent(token, env) == []


def test_a_piece_of_a_secret_held_in_a_slotted_object_is_not_sent(
    pytester: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _token()
    monkeypatch.setenv("PAYLOAD_SEED", token)
    pytester.makepyfile(
        auth="""
class Credential:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def check(cred):
    if not cred.value.startswith("Bearer "):
        raise ValueError("unexpected prefix " + cred.value[:14])
""",
        test_auth="import os\nfrom auth import Credential, check\n\n\ndef test_check():\n    check(Credential(os.environ['PAYLOAD_SEED']))\n",
    )
    pytester.syspathinsert()
    result = pytester.runpytest("--assist")

    assert "test_auth.py::test_check [assertion-mismatch] (from the API)" in assist_section(result)
    assert "unexpected prefix " + token[:14] in result.stdout.str()
    assert env.chat_requests and _pieces_sent(token, env) == []


# ------------------------------------------------------------------------------------------ faults
def _broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("bug")


def test_a_fault_in_the_blame_walk_still_explains_the_failure(
    pytester: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_module("symphony_assist_hooks.explain.session"), "feeding_lines", _broken)
    pytester.makepyfile(calc="def double(x):\n    return x * 3\n", test_calc=CALLS_DOUBLE)
    pytester.syspathinsert()
    result, groups = _groups(pytester)

    assert "test_calc.py::test_double [assertion-mismatch] (from the API)" in assist_section(result)
    assert groups[0]["suspects"] == []
    body = _bodies(env)
    assert "assert 6 == 4" in body and "def test_double():" in body  # what was captured before the fault


CALLS_DOUBLE = "from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n"


def test_a_fault_in_the_secret_scan_sends_no_captured_text(
    pytester: pytest.Pytester, env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_module("symphony_assist_hooks.scan.fragments"), "secret_values", _broken)
    pytester.makepyfile(
        calc="def double(x):\n    return x * 3\n",
        test_calc=CALLS_DOUBLE,
        mathutil='def half(x):\n    """\n    >>> half(4)\n    3\n    """\n    return x // 2\n',
    )
    pytester.syspathinsert()
    result, groups = _groups(pytester, "--doctest-modules")

    section = assist_section(result)
    assert "test_calc.py::test_double [assertion-mismatch] (from the API)" in section
    assert "mathutil.py::mathutil.half [assertion-mismatch] (from the API)" in section
    assert [g["suspects"] for g in groups] == [[], []]
    body = _bodies(env)
    for captured in ("assert 6 == 4", "def test_double", "return x * 3", "Expected:", "half(4)"):
        assert captured not in body  # fails closed: unscanned text is never sent
