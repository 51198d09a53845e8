"""The testing analyzer on pytest's real failure text (pytester runs small failing tests in-process)."""

from __future__ import annotations

import textwrap

import pytest

from symphony_assist_hooks.explainers import TestingAnalyzer
from symphony_assist_hooks.findings import Failure


def _failures(pytester: pytest.Pytester, *args: str) -> dict[str, Failure]:
    """Run the files in `pytester.path` and turn every failing report into a `Failure`."""
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "--continue-on-collection-errors", *args)
    reports = result.reprec.getreports(("pytest_runtest_logreport", "pytest_collectreport"))  # type: ignore[attr-defined]
    failures = {}
    for report in reports:
        if report.failed:
            name = report.nodeid.split("::")[-1]
            failures[name or report.nodeid] = Failure(
                test_id=report.nodeid,
                when=getattr(report, "when", "collect") or "collect",
                longrepr=report.longreprtext,
                path=report.nodeid.split("::")[0],
                line=_line(report),
            )
    return failures


def _line(report: pytest.TestReport | pytest.CollectReport) -> int:
    location = getattr(report, "location", None)
    return location[1] + 1 if location and location[1] is not None else 0


def _explain(pytester: pytest.Pytester, failure: Failure) -> tuple[str, str]:
    got = TestingAnalyzer(root=pytester.path).explain(failure)
    assert got.source == "local"
    assert got.test_id == failure.test_id
    return got.category, f"{got.explanation}\n{got.fix}"


def test_import_error_names_the_distribution_to_install(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_img="""
        def test_resize():
            import cv2
            assert cv2
        """,
        test_top="""
        import yaml_missing_module_xyz

        def test_x():
            pass
        """,
    )
    failures = _failures(pytester)
    category, text = _explain(pytester, failures["test_resize"])
    assert category == "import-error"
    assert "pip install opencv-python" in text and "`cv2`" in text and "test_resize" in text
    category, text = _explain(pytester, failures["test_top.py"])
    assert category == "import-error"
    assert "pip install yaml-missing-module-xyz" in text


def test_import_of_a_misspelled_project_name_suggests_the_real_one(pytester: pytest.Pytester) -> None:
    pytester.mkpydir("shop")
    pytester.path.joinpath("shop", "cart.py").write_text("class Cart:\n    pass\n\n\ndef total():\n    return 0\n")
    pytester.makepyfile(test_alias="def test_alias():\n    from shop.cart import Carts\n")
    failures = _failures(pytester)
    category, text = _explain(pytester, failures["test_alias"])
    assert category == "import-error"
    assert "`shop.cart` defines no `Carts`" in text and "Did you mean `Cart`" in text


def test_assertion_mismatch_names_the_values_and_the_call(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_cart="""
        def total(prices):
            return sum(prices) - 1

        def test_total():
            assert total([10, 20]) == 30

        def test_slug():
            value = "hello_world"
            assert value == "hello-world"
        """
    )
    failures = _failures(pytester)
    category, text = _explain(pytester, failures["test_total"])
    assert category == "assertion-mismatch"
    assert "`total([10, 20])`" in text and "29" in text and "30" in text
    category, text = _explain(pytester, failures["test_slug"])
    assert category == "assertion-mismatch"
    assert "character 5" in text and "'_' vs '-'" in text


def test_float_equality_suggests_approx(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_money="def test_sum():\n    assert 0.1 + 0.2 == 0.3\n")
    category, text = _explain(pytester, _failures(pytester)["test_sum"])
    assert category == "float-comparison"
    assert "pytest.approx(0.3)" in text


def test_fixture_not_found_lists_close_names(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("import pytest\n\n@pytest.fixture\ndef db_session():\n    return object()\n")
    pytester.makepyfile(
        test_db="""
        def test_rows(db_sesion):
            pass

        def test_clock(mocker):
            pass
        """
    )
    failures = _failures(pytester)
    category, text = _explain(pytester, failures["test_rows"])
    assert category == "fixture-not-found"
    assert "`db_sesion`" in text and "`db_session`" in text and "conftest.py" in text
    category, text = _explain(pytester, failures["test_clock"])
    assert category == "fixture-not-found"
    assert "pip install pytest-mock" in text


def test_none_attribute_names_the_expression_that_was_none(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_users="""
        USERS = {"ann": "ann@example.com"}

        def find_user(name):
            return None

        def test_email():
            user = find_user("zoe")
            assert user.email

        def test_settings():
            assert find_user("x")["port"] == 1
        """
    )
    failures = _failures(pytester)
    category, text = _explain(pytester, failures["test_email"])
    assert category == "attribute-error-on-none"
    assert "`user` is None" in text and ".email" in text
    category, text = _explain(pytester, failures["test_settings"])
    assert category == "type-error-on-none"
    assert "`find_user(…)` returned None" in text


@pytest.mark.parametrize(
    ("body", "category", "mentions"),
    [
        ("data = {'a': 1}\n    assert data['b']", "key-error", ["`data` has no key 'b'", "It has 'a'"]),
        ("items = [1]\n    assert items[3]", "index-error", ["`items[3]`"]),
        ("n = 0\n    assert 10 / n", "zero-division", ["`n` is zero"]),
        ("int('12a')", "value-error", ["'12a'"]),
        ("open('missing/data.json')", "file-not-found", ["missing/data.json", "Path(__file__)"]),
        ("import socket\n    socket.create_connection(('127.0.0.1', 1), timeout=1)", "network-error", ["127.0.0.1:1"]),
        ("len(1, 2)", "type-error", ["len() takes exactly one argument"]),
        ("def f(n):\n        return f(n + 1)\n    f(0)", "recursion", ["`f`"]),
        ("import json\n    json.loadz('1')", "attribute-error", ["loadz", "`loads`"]),
    ],
)
def test_exception_categories(pytester: pytest.Pytester, body: str, category: str, mentions: list[str]) -> None:
    pytester.makepyfile(test_case=f"def test_it():\n    {body}\n")
    got, text = _explain(pytester, _failures(pytester)["test_it"])
    assert got == category, text
    for mention in mentions:
        assert mention in text, text


def test_setup_and_teardown_errors_name_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def migrated():
            raise RuntimeError("migrations pending: 0007")

        @pytest.fixture
        def workdir():
            yield "x"
            raise OSError("cleanup failed")
        """
    )
    pytester.makepyfile(test_fx="def test_a(migrated):\n    pass\n\ndef test_b(workdir):\n    pass\n")
    failures = _failures(pytester)
    category, text = _explain(pytester, failures["test_a"])
    assert category == "setup-error"
    assert "fixture `migrated`" in text and "migrations pending: 0007" in text
    category, text = _explain(pytester, failures["test_b"])
    assert category == "teardown-error"
    assert "fixture `workdir`" in text


def test_collection_syntax_error_gives_file_and_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken="def test_x():\n    if True\n        pass\n")
    failure = _failures(pytester)["test_broken.py"]
    got = TestingAnalyzer(root=pytester.path).explain(failure)
    assert got.category == "collection-error"
    assert "test_broken.py:2" in got.explanation
    assert (got.path, got.line) == ("test_broken.py", 2)


def test_a_warning_raised_as_an_error_at_collection_says_which_filter_and_what_to_do(
    pytester: pytest.Pytester,
) -> None:
    """click 8.1.7 under pytest 9: `filterwarnings = error` turns a parametrize deprecation into an error."""
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    pytester.makepyfile(
        test_old="import warnings\n\nwarnings.warn('use new_api() instead', DeprecationWarning)\n\n\n"
        "def test_x():\n    pass\n"
    )
    failure = _failures(pytester)["test_old.py"]
    got = TestingAnalyzer(root=pytester.path).explain(failure)
    assert got.category == "collection-error"
    assert "a warning was raised as an error, DeprecationWarning: use new_api() instead" in got.explanation
    assert "`filterwarnings`" in got.explanation
    assert got.fix == (
        "Do what the warning asks in test_old.py; until then, `ignore::DeprecationWarning` in `filterwarnings` "
        "lets the file be collected."
    )


def test_order_dependent_state_is_called_flaky(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_reg="""
        REGISTRY = []

        def test_register():
            REGISTRY.append("csv")

        def test_starts_empty():
            assert len(REGISTRY) == 0
        """
    )
    category, text = _explain(pytester, _failures(pytester)["test_starts_empty"])
    assert category == "flaky"
    assert "`REGISTRY`" in text and "order" in text


def test_unknown_exception_still_says_which_where_and_what(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_stock="""
        class OutOfStockError(Exception):
            pass

        def reserve(sku):
            raise OutOfStockError(f"{sku} has 0 left")

        def test_reserve():
            reserve("SKU-1")
        """
    )
    category, text = _explain(pytester, _failures(pytester)["test_reserve"])
    assert category == "exception"
    assert "OutOfStockError" in text and "SKU-1 has 0 left" in text and "test_stock.py:5" in text
    # the test did not expect the exception: never advise wrapping it in pytest.raises
    assert "pytest.raises" not in text and "did not expect" in text


def test_other_traceback_styles_are_read_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_short="def find():\n    return None\n\ndef test_it():\n    find().name\n")
    for style in ("short", "native", "long"):
        failure = _failures(pytester, f"--tb={style}")["test_it"]
        got = TestingAnalyzer(root=pytester.path).explain(failure)
        assert got.category == "attribute-error-on-none", (style, got)
        assert "`find(…)` returned None" in got.explanation, (style, got.explanation)


def test_garbage_input_still_gets_a_specific_fallback() -> None:
    failure = Failure("tests/test_x.py::test_y", "call", "something odd happened", path="tests/test_x.py", line=3)
    got = TestingAnalyzer().explain(failure)
    assert got.category == "exception"
    assert "test_y" in got.explanation and "tests/test_x.py:3" in got.explanation


def test_timeout_text_from_pytest_timeout() -> None:
    longrepr = textwrap.dedent(
        """\
        def test_wait():
        >       wait_for(ready)

        test_jobs.py:12:
        _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
        jobs.py:8: in wait_for
            time.sleep(0.1)
        E   Failed: Timeout >5.0s

        /venv/lib/python3.12/site-packages/pytest_timeout.py:250: Failed
        """
    )
    got = TestingAnalyzer().explain(Failure("test_jobs.py::test_wait", "call", longrepr, path="test_jobs.py"))
    assert got.category == "timeout"
    assert "5.0s" in got.explanation and "wait_for" in got.explanation
    assert (got.path, got.line) == ("jobs.py", 8)


def test_feeding_lines_follow_assignments_and_conditions() -> None:
    from symphony_assist_hooks.explain.blame import feeding_lines, returned_lines

    source = (
        "def f(xs, k):\n"  # 1
        "    n = len(xs)\n"  # 2
        "    unused = 7\n"  # 3
        "    m = n - k\n"  # 4
        "    if m > 0:\n"  # 5
        "        return xs[:m]\n"  # 6
        "    return []\n"  # 7
    )
    assert returned_lines(source) == [6, 7]
    assert feeding_lines(source, [6]) == [2, 4, 5]


def test_a_blamed_verdict_names_the_code_and_never_the_test(pytester: pytest.Pytester) -> None:
    from symphony_assist_hooks.explainers.blamed import blame_code
    from symphony_assist_hooks.explainers.context import Context, Verdict
    from symphony_assist_hooks.explainers.longrepr import parse
    from symphony_assist_hooks.findings import Failure

    failure = Failure("t.py::test_x", "call", "E   ValueError: bad", path="t.py", line=3, exc_type="ValueError")
    suspect = {"path": "calc.py", "func": "parse", "first": 10, "line": 12, "lines": [11, 12],
               "why": "raised here", "source": "def parse(s):\n    n = s.split(',')\n    raise ValueError('bad')\n"}  # fmt: skip
    verdict = blame_code(Context(failure, parse(failure.longrepr), pytester.path),
                         Verdict("value-error", "x raised.", "assert it with `pytest.raises`"), [suspect])  # fmt: skip
    assert (verdict.path, verdict.line) == ("calc.py", 12)
    assert "Prime suspect: `parse` at calc.py:12 `raise ValueError('bad')`" in verdict.explanation
    assert verdict.fix.startswith("Fix the code, not the test: check `parse` at calc.py:12")
    assert "line 11 that feeds it" in verdict.fix and "pytest.raises" not in verdict.fix


@pytest.mark.parametrize(
    ("body", "category", "mentions"),
    [
        ("user = None\n    getattr(user, 'name')", "attribute-error-on-none", ["a value was None", "`.name`"]),
        (
            "def find():\n        return None\n    assert len(find().items) == 2",
            "attribute-error-on-none",
            ["`find(…)` returned None", "`.items`"],
        ),
        ("cfg = None\n    port = 1 + cfg.port", "attribute-error-on-none", ["`cfg` is None", "`.port`"]),
        (
            "limit = None\n    list(range(limit))",
            "type-error",
            ["'NoneType' object cannot be interpreted as an integer"],
        ),
        (
            "from collections import Counter\n    Counter('aab').mostcommon()",
            "attribute-error",
            ["`.mostcommon` on a `Counter` object"],
        ),
        (
            "class Cart:\n        @property\n        def total(self):\n            return 0\n    Cart().total = 5",
            "attribute-error",
            ["raised AttributeError: property 'total' of", "has no setter", "property without a setter"],
        ),
        ("data = {'a': 1}; other = {'b': 2}\n    assert data['c']", "key-error", ["`data` has no key 'c'"]),
        ("items = []\n    items.pop()", "index-error", ["pop from empty list"]),
    ],
)
def test_lookup_shapes(pytester: pytest.Pytester, body: str, category: str, mentions: list[str]) -> None:
    pytester.makepyfile(test_case=f"def test_it():\n    {body}\n")
    got, text = _explain(pytester, _failures(pytester)["test_it"])
    assert got == category, text
    for mention in mentions:
        assert mention in text, text
    assert "It has" not in text  # no keys guessed from a line that is not one dict literal
    assert "`.`" not in text and "``" not in text  # never an empty name


def test_a_missing_module_attribute_suggests_a_name_the_project_file_defines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        shop="def total(xs):\n    return sum(xs)\n", test_shop="import shop\n\n\ndef test_it():\n    shop.totl([])\n"
    )
    pytester.syspathinsert()
    category, text = _explain(pytester, _failures(pytester)["test_it"])
    assert category == "attribute-error"
    assert "module `shop`" in text and "Did you mean `total`?" in text


def test_import_of_a_misspelled_constant_suggests_the_assigned_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        settings="MAX_RETRIES: int = 3\nTIMEOUT = 5\n", test_cfg="def test_it():\n    from settings import MAX_RETRY\n"
    )
    pytester.syspathinsert()
    category, text = _explain(pytester, _failures(pytester)["test_it"])
    assert category == "import-error"
    assert "`settings` defines no `MAX_RETRY`" in text and "Did you mean `MAX_RETRIES`?" in text


def test_import_of_a_project_package_not_on_the_path_says_how_to_install_it(pytester: pytest.Pytester) -> None:
    (pytester.path / "src" / "inventory").mkdir(parents=True)
    (pytester.path / "src" / "inventory" / "__init__.py").write_text("")
    pytester.makepyfile(test_inv="def test_it():\n    import inventory\n")
    category, text = _explain(pytester, _failures(pytester)["test_it"])
    assert category == "import-error"
    assert "part of this project but is not importable" in text and "pip install -e ." in text
    assert "pip install inventory" not in text


def test_a_relative_import_in_a_test_is_an_import_error_with_its_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_rel="def test_it():\n    from . import helpers\n")
    category, text = _explain(pytester, _failures(pytester)["test_it"])
    assert category == "import-error"
    assert "failed to import" in text and "attempted relative import" in text


def test_an_import_error_subclass_naming_the_missing_module_is_traced_to_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_opt="""
        class OptionalImportError(ImportError):
            pass

        try:
            import lxml_not_installed_xyz
        except ImportError as exc:
            raise OptionalImportError(f"{exc}: install the [xml] extra") from exc

        def test_it():
            pass
        """
    )
    failure = _failures(pytester)["test_opt.py"]
    got = TestingAnalyzer(root=pytester.path).explain(failure)
    assert got.category == "import-error", got
    assert "lxml_not_installed_xyz" in got.explanation and "pip install lxml-not-installed-xyz" in got.fix


@pytest.mark.parametrize(
    ("body", "category", "mentions"),
    [
        ("count = '3'\n    assert count == 3", "assertion-mismatch", ["Same text, different types: str vs int"]),
        (  # pytest escapes the quote inside the repr: the comparison is still split at the right `==`
            r"""name = 'a"b\'c'""" + "\n    assert name == 'a\"bc'",
            "assertion-mismatch",
            ["They first differ at character 3: \"'\" vs 'c'"],
        ),
        (
            "# intermittently slow on CI\n    import random\n    assert random.random() > 2",
            "flaky",
            ["marked or described as flaky"],
        ),
    ],
)
def test_assertion_shapes(pytester: pytest.Pytester, body: str, category: str, mentions: list[str]) -> None:
    pytester.makepyfile(test_case=f"def test_it():\n    {body}\n")
    got, text = _explain(pytester, _failures(pytester)["test_it"])
    assert got == category, text
    for mention in mentions:
        assert mention in text, text


def test_module_level_code_failing_at_collection_is_named(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_db="""
        import os

        DATABASE = os.environ.get("DATABASE_URL") or None
        if DATABASE is None:
            raise RuntimeError("DATABASE_URL is not set")

        def test_it():
            pass
        """,
        test_extra="""
        class MissingExtra(ImportError):
            pass

        raise MissingExtra("install the [xml] extra")
        """,
    )
    failures = _failures(pytester)
    got = TestingAnalyzer(root=pytester.path).explain(failures["test_db.py"])
    assert got.category == "collection-error"
    assert "importing it raised RuntimeError: DATABASE_URL is not set" in got.explanation
    assert "move the work that failed into a fixture" in got.fix
    got = TestingAnalyzer(root=pytester.path).explain(failures["test_extra.py"])
    assert got.category == "collection-error"
    assert "install the [xml] extra" in got.explanation


def test_a_setup_error_inside_pytest_itself_names_no_project_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_cap="""
        import pytest

        def test_both(capsys, capfd):
            pass

        class TestCap:
            @pytest.mark.parametrize("n", [1])
            def test_both(self, n, capsys, capfd):
                pass
        """
    )
    failures = _failures(pytester)
    for name in ("test_both", "test_both[1]"):
        category, text = _explain(pytester, failures[name])
        assert category == "setup-error"
        assert "a fixture failed during setup" in text and "capfd and capsys" in text
        assert "fixture `test_both`" not in text  # the test is not its own fixture


@pytest.mark.hardening_faults
def test_a_bug_in_an_explainer_still_gives_the_facts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import symphony_assist_hooks.explainers as explainers

    def broken(ctx: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(explainers, "explain_assertion", broken)
    pytester.makepyfile(test_case="def test_it():\n    assert 1 == 2\n")
    category, text = _explain(pytester, _failures(pytester)["test_it"])
    assert category == "exception"
    assert "test_case.py:2" in text and "(local analysis incomplete: RuntimeError)" in text


@pytest.mark.parametrize(
    ("line", "subject"),
    [
        ("port = 1 + cfg.port", "`cfg` is None"),
        ("assert len(find().port) == 2", "`find(…)` returned None"),
    ],
)
def test_the_none_expression_is_found_without_carets(line: str, subject: str) -> None:
    """Python 3.10, or 3.11+ under PYTHONNODEBUGRANGES=1: no `^^^^` line, only the failing statement."""
    longrepr = f"test_cfg.py:3: in test_it\n    {line}\nE   AttributeError: 'NoneType' object has no attribute 'port'"
    got = TestingAnalyzer().explain(Failure("test_cfg.py::test_it", "call", longrepr, path="test_cfg.py", line=3))
    assert got.category == "attribute-error-on-none"
    assert subject in got.explanation
