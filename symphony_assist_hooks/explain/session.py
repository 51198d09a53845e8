"""The work behind `pytest --assist`: capture a failure's context, explain a session, print the section.

PYTEST_DONT_REWRITE (nothing here needs assertion rewriting; skipping it saves a parse per session).

Imported by `pytest_plugin.AssistPlugin` only when there is a failure, never on a green run or without
--assist: it is pytest's adapter side of `explain.py`, and the core behind it (openai, pydantic, jinja2)
is imported by the assistant only on a cache miss.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..amounts import ini_value, parse_usd, whole_number
from ..annotators import emit, parse_format_args
from ..annotators.base import RenderContext
from ..annotators.jsonfmt import to_document
from ..config import load_settings
from ..explainers.blamed import suspect_line
from ..findings import Failure
from ..logsafe import clean, inert_line, inert_lines
from ..plugins import annotators
from ..terminal.console import Console
from ..terminal.progressline import Progress, stderr_progress
from .blame import feeding_lines, function_suspect
from .requests import explain_failures

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..findings import Failure
    from .requests import Explained

__all__ = ["capture_failure", "emit_formats", "explain_session", "print_summary", "write_report"]

FIELD_CHARS = 20_000  # per captured field: enough for any trimming later, small on the wire
_INTERNAL_DIRS = tuple(
    str(Path(mod.__file__).parent) + os.sep
    for mod in (pytest, sys.modules.get("_pytest"), sys.modules.get("pluggy"))
    if mod is not None and mod.__file__
)


def _rel(path: str | os.PathLike[str], root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return os.fspath(path)


def _source_of(obj: Any) -> str:
    try:
        return inspect.getsource(inspect.unwrap(obj))[:FIELD_CHARS]
    except (OSError, TypeError, ValueError):
        return ""


def _is_project_file(path: Path, root: Path) -> bool:
    text = str(path)
    if text.startswith(_INTERNAL_DIRS) or "site-packages" in path.parts or "dist-packages" in path.parts:
        return False
    if text.startswith(sys.prefix + os.sep) or text.startswith(sys.base_prefix + os.sep):
        return False
    return path.is_relative_to(root)


def _code_under_test(entries: list[Any], test_path: Path, test_code: Any, root: Path) -> str:
    """The code a failure is about, as `# path:line (name)` and its source.

    The function of the innermost traceback frame inside the rootdir but outside the test file; when the
    failure was raised in the test file itself (a failing assertion), the project functions called in the
    failing statement; else the innermost project frame that is not the test (a helper or a fixture).
    """
    project = [e for e in reversed(entries) if isinstance(e.path, Path) and _is_project_file(e.path, root)]
    outside = next((e for e in project if e.path != test_path), None)
    if outside is not None:
        return _frame_source(outside, root)
    if project:
        called = _called_functions(project[0], test_path, root)
        if called:
            return called
    helper = next((e for e in project if e.frame.code.raw is not test_code), None)
    return _frame_source(helper, root) if helper is not None else ""


def _frame_source(entry: Any, root: Path) -> str:
    code = entry.frame.code
    if code.name == "<module>":  # module-level code: the lines around the failing one
        lines = Path(entry.path).read_text(encoding="utf-8", errors="replace").splitlines()
        first = max(entry.lineno - 10, 0)
        body = "\n".join(lines[first : entry.lineno + 5])
    else:
        body, first = _source_of(code.raw), code.firstlineno
    return f"# {_rel(entry.path, root)}:{first + 1} ({code.name})\n{body}"[:FIELD_CHARS] if body else ""


def _called_functions(entry: Any, test_path: Path, root: Path, limit: int = 3) -> str:
    """Sources of the project functions called in `entry`'s failing statement (outside the test file)."""
    found = []
    for func in _called(entry, test_path, root)[:limit]:
        code = func.__code__
        body = _source_of(func)
        if body:
            found.append(f"# {_rel(code.co_filename, root)}:{code.co_firstlineno} ({code.co_name})\n{body}")
    return "\n\n".join(found)[:FIELD_CHARS]


def _called(entry: Any, test_path: Path, root: Path) -> list[Any]:
    """The project functions called in `entry`'s failing statement (outside the test file), outermost first,
    then those called in the test's statements feeding it (`value = f(x)` before `assert value == y`).

    Names are resolved statically (`inspect.getattr_static`): no property or `__getattr__` runs.
    """
    import ast
    import textwrap

    scope = {**entry.frame.f_globals, **entry.frame.f_locals}
    statements = [str(entry.statement)]
    try:
        code = entry.frame.code
        lines, first = inspect.getsourcelines(code.raw)
        feeding = feeding_lines("".join(lines), [entry.lineno + 1 - max(first, 1) + 1])
        # a simple statement whole (`value = f(\n    x,\n)`), a compound one by its header line
        tree = ast.parse(textwrap.dedent("".join(lines)))
        stmts = [s for s in ast.walk(tree) if isinstance(s, ast.stmt)]
        ends = {s.lineno: _span_end(s, lines) for s in stmts}
        # `with pytest.raises(E):` fails at its header when the block did not raise: the block is what ran,
        # before what fed it
        failing = entry.lineno + 1 - max(first, 1) + 1
        for block in (s for s in stmts if isinstance(s, ast.With | ast.AsyncWith) and s.lineno == failing):
            statements += ["".join(lines[b.lineno - 1 : ends.get(b.lineno, b.lineno)]) for b in block.body]
        statements += ["".join(lines[n - 1 : ends.get(n, n)]) for n in reversed(feeding) if 0 < n <= len(lines)]
    except (OSError, TypeError, ValueError, IndexError, SyntaxError):
        pass
    found: list[Any] = []
    seen: set[Any] = set()
    for statement in statements:
        text = textwrap.dedent(statement).strip()
        try:
            tree = ast.parse(text)
        except SyntaxError:
            try:  # the header of a compound statement (`with pytest.raises(E):`, `for x in f():`)
                tree = ast.parse(text + "\n pass")  # a comment may follow the colon
            except SyntaxError:
                continue
        except ValueError:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = _resolve(node.func, scope)
            code = getattr(func, "__code__", None)
            if code is None or code in seen:
                continue
            seen.add(code)
            path = Path(code.co_filename)
            if path.is_absolute() and path != test_path and _is_project_file(path, root):
                found.append(func)
    return found


def _span_end(stmt: Any, lines: list[str]) -> int:
    """The last line of a simple statement, or of a compound statement's header, which may span lines
    (`for x in f(\n    a,\n):`): the line before its body, comments and blank lines left out."""
    body = getattr(stmt, "body", None)
    if not isinstance(body, list) or not body:
        return int(stmt.end_lineno or stmt.lineno)
    end = max(stmt.lineno, body[0].lineno - 1)
    while end > stmt.lineno and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return int(end)


def _callees(func: Any, root: Path, test_path: Path, depth: int = 3, limit: int = 16) -> list[Any]:
    """Project functions `func` calls, transitively (breadth first, `depth` levels, `limit` in all),
    resolved statically from its module's globals and, for `self.x`/`cls.x`, its class."""
    import ast
    import textwrap

    out: list[Any] = []
    seen = {getattr(func, "__code__", None)}
    level = [func]
    for _ in range(depth):
        nxt = []
        for f in level:
            try:
                tree = ast.parse(textwrap.dedent(inspect.getsource(f)))
            except (OSError, TypeError, SyntaxError, ValueError):
                continue
            scope = _scope_of(f)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                try:
                    callee = _resolve(node.func, scope, instance=False)
                except Exception:  # a custom descriptor: not followed
                    callee = None
                code = getattr(callee, "__code__", None)
                if code is None or code in seen:
                    continue
                seen.add(code)
                path = Path(code.co_filename)
                if path.is_absolute() and path != test_path and _is_project_file(path, root):
                    out.append(callee)
                    nxt.append(callee)
                    if len(out) >= limit:
                        return out
        level = nxt
    return out


def _scope_of(func: Any) -> dict[str, Any]:
    """How `func`'s calls are resolved statically: its module's globals, with `self`/`cls` its owner class."""
    scope: dict[str, Any] = dict(getattr(func, "__globals__", {}))
    owner = scope.get(func.__qualname__.split(".")[0]) if "." in func.__qualname__ else None
    if inspect.isclass(owner):
        scope["self"] = scope["cls"] = owner
    return scope


_NO_RETURN = re.compile(r"\b(?:NoReturn|Never)\b")


def _never_returns(func: Any) -> bool:
    """Whether `func` always raises: annotated `NoReturn`/`Never`, or a body that ends in `raise` and has
    no `return` (click's `ParamType.fail`)."""
    import ast
    import textwrap

    if _NO_RETURN.search(str(getattr(func, "__annotations__", {}).get("return", ""))):
        return True
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError, ValueError):
        return False
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    return isinstance(node.body[-1], ast.Raise) and not any(isinstance(n, ast.Return) for n in ast.walk(node))


def _raising_calls(func: Any) -> Callable[[Any], bool]:
    """For `blame.guard_lines`: whether a call in `func` names a function that always raises."""
    scope = _scope_of(func)

    def raises(call: Any) -> bool:
        try:
            callee = _resolve(call.func, scope, instance=False)
        except Exception:  # a custom descriptor: not followed
            return False
        return getattr(callee, "__code__", None) is not None and _never_returns(callee)

    return raises


def _suspects(
    entries: list[Any], test_path: Path, root: Path, limit: int = 3, *, did_not_raise: bool = False
) -> list[dict[str, Any]]:
    """The prime suspects in the project's own code (see `blame`), the likeliest first. `did_not_raise`: the
    test's `pytest.raises` block finished without the exception, so the called code's checks are suspect."""

    project = [e for e in reversed(entries) if isinstance(e.path, Path) and _is_project_file(e.path, root)]
    out: list[dict[str, Any]] = []
    for entry in project:
        if entry.path == test_path or entry.frame.code.name == "<module>" or len(out) >= limit:
            continue
        why = "raised here" if not out else "on the path to the error"
        found = function_suspect(
            entry.frame.code.raw, entry.path, root, targets=[entry.lineno + 1], why=why, rel=_rel(entry.path, root)
        )
        if found is not None:
            out.append(found)
    if not out and project and project[0].path == test_path:  # raised in the test: what did it call?
        called = _called(project[0], test_path, root)
        for func in called[:limit]:
            path = Path(func.__code__.co_filename)
            why = "ran without raising" if did_not_raise else "returned the value the test checks"
            found = function_suspect(
                func,
                path,
                root,
                why=why,
                rel=_rel(path, root),
                guards=did_not_raise,
                raises=_raising_calls(func) if did_not_raise else None,
            )
            if found is not None:
                out.append(found)
        # what those call in turn: only a line changed since HEAD makes one of them a suspect
        for func in [c for f in called[:limit] for c in _callees(f, root, test_path)]:
            path = Path(func.__code__.co_filename)
            found = function_suspect(func, path, root, why="called on the way", rel=_rel(path, root))
            if found is not None and found["changed"]:
                out.insert(0, found)
                break
    out.sort(key=lambda s: not s["changed"])  # a function changed since HEAD first (stable otherwise)
    return out


def _resolve(node: Any, scope: dict[str, Any], instance: bool = True) -> Any:
    """The callable `node` (a name or an attribute chain) names in `scope`: a class becomes its `__init__`.
    With `instance=False`, `self`/`cls` in `scope` are the owner class (`self.method` → the method)."""
    value = _lookup(node, scope)
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    elif isinstance(value, property):
        value = value.fget
    elif inspect.isclass(value):
        value = inspect.getattr_static(value, "__init__", None)
    return inspect.unwrap(value) if callable(value) else value


def _lookup(node: Any, scope: dict[str, Any]) -> Any:
    import ast

    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _lookup(node.value, scope)
        if base is None:
            return None
        owner = base if inspect.ismodule(base) or inspect.isclass(base) else type(base)
        try:
            return inspect.getattr_static(owner, node.attr)
        except AttributeError:
            return None
    if isinstance(node, ast.Call):  # `Cls(...).method`: the instance's type is the class called
        import functools

        made = _lookup(node.func, scope)
        while isinstance(made, functools.partial):
            made = made.func
        return made if inspect.isclass(made) else None
    return None


def _exc_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


# ------------------------------------------------------------------------------------------ secrets
_WALK_DEPTH = 4
_WALK_ITEMS = 2_000  # values looked at per failure (a huge local is not walked to the end)


def _strings(value: Any, out: list[str], depth: int = 0, seen: set[int] | None = None) -> None:
    """The strings held by `value`: itself, the items of builtin containers, an object's or an exception's
    attributes. No `__repr__`, property or `__getattr__` of the project runs (only builtin `str`/`bytes`)."""
    seen = set() if seen is None else seen
    if len(seen) >= _WALK_ITEMS or depth > _WALK_DEPTH or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, bytes | bytearray | memoryview):
        out.append(bytes(value[:200_000]).decode("utf-8", "replace"))
    elif isinstance(value, dict):
        for k, v in list(value.items())[:_WALK_ITEMS]:
            _strings(k, out, depth + 1, seen)
            _strings(v, out, depth + 1, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in list(value)[:_WALK_ITEMS]:
            _strings(v, out, depth + 1, seen)
    elif not isinstance(value, int | float | complex | type(None)) and not inspect.isroutine(value):
        if isinstance(value, BaseException):
            _strings(value.args, out, depth + 1, seen)
        slots = _slot_values(value)
        if slots:
            _strings(slots, out, depth + 1, seen)
        try:
            attrs = object.__getattribute__(value, "__dict__")
        except Exception:  # no __dict__ (slots, builtins): nothing to walk
            return
        if isinstance(attrs, dict) and not inspect.ismodule(value) and not inspect.isclass(value):
            _strings(attrs, out, depth + 1, seen)


def _slot_values(value: Any) -> list[Any]:
    """The values in `value`'s `__slots__`, read through the builtin member descriptors (no project code
    runs): a slotted object has no `__dict__` to walk."""
    out: list[Any] = []
    for cls in type(value).__mro__:
        names = cls.__dict__.get("__slots__", ())
        for name in [names] if isinstance(names, str) else list(names)[:_WALK_ITEMS]:
            member = cls.__dict__.get(name) if isinstance(name, str) else None
            if isinstance(member, types.MemberDescriptorType):
                with contextlib.suppress(AttributeError):  # a slot never set
                    out.append(member.__get__(value, cls))
    return out


def _secret_texts(excinfo: pytest.ExceptionInfo[BaseException], entries: list[Any], root: Path) -> list[str]:
    """The full texts of a failure, before anything shortened them: the exceptions of the chain, the
    locals of the project's frames (pytest's assertion rewriting keeps the compared values there)."""
    out: list[str] = []
    exc: BaseException | None = excinfo.value
    chain: set[int] = set()
    while exc is not None and id(exc) not in chain and len(chain) < 8:
        chain.add(id(exc))
        with contextlib.suppress(Exception):  # a broken __str__: its args are walked below
            out.append(str(exc))
        _strings(exc, out)
        exc = exc.__cause__ or exc.__context__
    seen: set[int] = set()
    for entry in entries:
        if isinstance(entry.path, Path) and _is_project_file(entry.path, root):
            _strings(dict(entry.frame.f_locals), out, 0, seen)
    return out


def _scrub_data(data: dict[str, Any], scrub: Callable[[str], str]) -> None:
    """Redact the pieces of the failure's secrets from the captured texts, in place (the values of
    secret-named environment variables first, so that they keep their own placeholder)."""
    from ..scan.redact import redact_env_values  # deferred: only a failure is scanned (~18 ms a green run skips)

    for field in ("longrepr", "test_source", "code_under_test"):
        if isinstance(data.get(field), str):
            data[field] = scrub(redact_env_values(data[field]))
    for suspect in data.get("suspects") or ():
        for field in ("source", "diff"):
            if isinstance(suspect.get(field), str):
                suspect[field] = scrub(redact_env_values(suspect[field]))


def _find_secrets(
    data: dict[str, Any], excinfo: pytest.ExceptionInfo[BaseException], entries: list[Any], root: Path, key: bytes
) -> None:
    """`data["secret_grams"]`: keyed digests of the pieces of every secret of the failure (its full texts
    and its captured ones), for the controller to redact them from the whole session's requests; and the
    captured texts cleaned of them here already (fails closed: a fault drops the texts)."""
    from ..scan.fragments import FragmentScrubber, digests, secret_values  # deferred: as redact_env_values above

    texts = [str(data.get(f) or "") for f in ("longrepr", "test_source", "code_under_test")]
    texts += [str(s.get(f) or "") for s in data.get("suspects") or () for f in ("source", "diff")]
    values = secret_values(texts + _secret_texts(excinfo, entries, root))
    if not values:
        return
    known = digests(values, key)
    data["secret_grams"] = sorted(d.hex() for d in known)
    _scrub_data(data, FragmentScrubber(known, key))


def capture_failure(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, key: bytes = b""
) -> dict[str, Any]:
    """The context of a failed setup, call or teardown, as JSON-serialisable data.

    `key` keys the digests of the secrets' pieces (`data["secret_grams"]`, see `scan.fragments`): the
    controller's, so that it can match them in every failure's text."""
    root = item.config.rootpath
    excinfo = call.excinfo
    data: dict[str, Any] = {
        "test_id": report.nodeid,
        "when": report.when,
        "path": _rel(item.path, root),
        "line": (report.location[1] or 0) + 1,
        "longrepr": report.longreprtext[-FIELD_CHARS:],
        "exc_type": "",
        "test_source": "",
        "code_under_test": "",
    }
    if excinfo is None:
        return data
    data["exc_type"] = _exc_name(excinfo.value)
    test_obj = getattr(item, "obj", None) if isinstance(item, pytest.Function) else None
    if test_obj is None:  # a doctest or another plugin's item: its own repr_failure knows best
        try:
            _find_secrets(data, excinfo, [], root, key)
        except Exception as exc:  # fail closed, as below
            data.update(longrepr="", secret_error=type(exc).__name__)
        return data
    test_code = getattr(inspect.unwrap(test_obj), "__code__", None)
    entries = list(excinfo.traceback.filter(excinfo))
    try:
        own = [e for e in entries if not (isinstance(e.path, Path) and str(e.path).startswith(_INTERNAL_DIRS))]
        fresh = pytest.ExceptionInfo.from_exception(excinfo.value)
        fresh.traceback = excinfo.traceback.__class__(own or entries)
        text = str(
            fresh.getrepr(style="short", funcargs=False, showlocals=False, abspath=True, tbfilter=False, chain=True)
        )
        data["longrepr"] = text[-FIELD_CHARS:]
    except Exception as exc:  # keep pytest's own rendering
        data["repr_error"] = type(exc).__name__
    # the file the test function is written in: a test inherited from a base class in another module
    # (itsdangerous' test_timed.py runs test_serializer.py's tests) runs there, and is still the test
    test_file = Path(test_code.co_filename) if test_code is not None else item.path
    in_test = [e for e in entries if e.path == test_file]
    if in_test and test_file == item.path:
        data["line"] = in_test[-1].lineno + 1
    data["test_source"] = _source_of(test_obj)
    try:
        data["code_under_test"] = _code_under_test(entries, test_file, test_code, root)
    except Exception as exc:  # the failure is still explained, with less context
        data["capture_error"] = type(exc).__name__
    try:
        did_not_raise = isinstance(excinfo.value, pytest.fail.Exception) and "DID NOT RAISE" in str(excinfo.value)
        data["suspects"] = _suspects(entries, test_file, root, did_not_raise=did_not_raise)
    except Exception as exc:  # blame is a bonus: the failure is still explained
        data["capture_error"] = type(exc).__name__
    try:
        _find_secrets(data, excinfo, entries, root, key)
    except Exception as exc:  # fail closed: no context rather than unscanned pieces of a secret
        data.update(longrepr="", test_source="", code_under_test="", suspects=[], secret_error=type(exc).__name__)
    return data


# ------------------------------------------------------------------------------------------ explain
def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name, None)
    return value if value is not None else config.getini(name)


def _scrubber(failures: list[dict[str, Any]], key: bytes) -> Any:
    """One `FragmentScrubber` for the session: the pieces of every failure's secrets, from every text sent
    (a token shown whole in one test is cut in another's output, or its prefix is in another test's name)."""
    from ..scan.fragments import FragmentScrubber  # deferred: only a session with failures scrubs (~18 ms)

    known: set[bytes] = set()
    for d in failures:
        for digest in d.get("secret_grams") or ():
            try:
                known.add(bytes.fromhex(str(digest)))
            except ValueError:
                continue
    return FragmentScrubber(known, key) if known else None


def explain_session(config: pytest.Config, failures: list[dict[str, Any]], warn: Any, key: bytes = b"") -> Explained:
    """Settings as the command has them (cwd = rootdir), the options, then one `explain_failures`.

    `key`: the session's key of the secrets' pieces `capture_failure` found (see `scan.fragments`)."""

    root = config.rootpath
    max_failures = _option(config, "assist_max_failures")
    if isinstance(max_failures, str):
        max_failures = ini_value(whole_number(0), max_failures.strip() or "5", "assist_max_failures")
    cli: dict[str, Any] = {}
    cost = config.getoption("assist_max_cost", None)
    ini_cost = str(config.getini("assist_max_cost")).strip()
    if cost is None and ini_cost and "SYMPHONY_ASSIST_BUDGET_RUN" not in os.environ:
        cost = ini_value(
            parse_usd, ini_cost, "assist_max_cost"
        )  # the ini file ranks with pyproject: below the environment
    if cost is not None:
        cli["budget_run"] = cost
    basetemp = config.getoption("basetemp", None)
    settings = load_settings(cli, cwd=root)
    with pytest_progress(config) as progress:  # on stderr when it is a terminal (or a CI log), never on stdout
        return explain_failures(
            [_failure(d) for d in failures],
            settings,
            template=str(_option(config, "assist_template") or "testing"),
            max_failures=int(max_failures),
            root=str(root),
            volatile=[str(Path(basetemp).resolve())] if basetemp else [],
            warn=warn,
            progress=progress,
            scrub=_scrubber(failures, key),
        )


def _failure(d: dict[str, Any]) -> Failure:

    return Failure(
        test_id=str(d.get("test_id", "")),
        when=str(d.get("when", "call")),
        longrepr=str(d.get("longrepr", "")),
        path=str(d.get("path", "")),
        line=int(d.get("line") or 0),
        exc_type=str(d.get("exc_type", "")),
        test_source=str(d.get("test_source", "")),
        code_under_test=str(d.get("code_under_test", "")),
        suspects=tuple(s for s in d.get("suspects") or () if isinstance(s, dict)),
    )


# ------------------------------------------------------------------------------------------ outputs
def _render_context(config: pytest.Config) -> Any:

    return RenderContext.from_env(root=config.rootpath, category="symphony-assist/pytest/")


def write_report(config: pytest.Config, result: Explained) -> None:
    """--assist-report: the json annotator's document plus the ids left unexplained."""
    target = str(_option(config, "assist_report") or "")
    if not target:
        return
    import json

    doc = to_document(result.report, _render_context(config))
    doc["not_explained"] = list(result.not_explained)
    doc["groups"] = [
        {
            "lead": g.lead.test_id,
            "size": len(g.failures),
            "tests": g.tests(),
            "members": [f.test_id for f in g.failures],
            "suspects": [{k: v for k, v in s.items() if k != "source"} for s in g.lead.suspects],
        }
        for g in result.groups
    ]
    path = Path(target)
    if not path.is_absolute():
        path = config.invocation_params.dir / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def emit_formats(config: pytest.Config, result: Explained) -> None:
    """--assist-format: called from the terminal summary, where stdout is no longer captured."""
    formats = list(_option(config, "assist_format") or [])
    if not formats:
        return

    emit(result.report, parse_format_args(formats), _render_context(config), Console(color="never"), annotators())


MAX_LINE = 300  # no line of the section is longer (a CI log or a terminal stays readable)
WRAP = 160
FOLD = 6  # test names shown for a group before `…`


def print_summary(tr: pytest.TerminalReporter, result: Explained | None, lines: list[str]) -> None:
    """The `symphony-assist` section: per group of failures its first id, category and source, its size with
    the members folded, the explanation and fix, the suspect code lines; what was left out (one line) and
    why answers were local; then one line of cost and cache hits. No line is longer than MAX_LINE.

    Model text, test ids and upstream error messages may land in a CI log: every line is written by
    `say`, through `logsafe` (split on `\\n` only, invisibles removed, then no `::`/`##[` command left)."""

    def say(text: str, **markup: bool) -> None:
        for line in inert_lines(text):
            tr.write_line(_fit(line), **markup)

    tr.write_sep("=", "symphony-assist", bold=True)
    if result is not None:
        report = result.report
        groups = list(result.groups) + [None] * max(0, len(report.explanations) - len(result.groups))
        for e, group in zip(report.explanations, groups, strict=False):
            where = {"api": "from the API", "cache": "from the cache"}.get(e.source, "local fallback")
            say(f"{inert_line(e.test_id)} [{inert_line(e.category)}] ({where})", bold=True)
            if group is not None and len(group.failures) > 1:
                say("  " + inert_line(_folded(group)))
            _block(say, "why: ", e.explanation)
            _block(say, "fix: ", e.fix)
            if group is not None and group.lead.suspects:
                for text in _code_lines(group.lead.suspects[0]):
                    say(inert_line(text))
        for reason, count in report.skipped.items():
            say(f"{count} failure(s) {inert_line(reason)}: " + inert_line(_report_hint(tr.config)))
        if report.fallback_reason:
            say(f"local fallback: {inert_line(report.fallback_reason)}", yellow=True)
        for notice in report.notices:
            say(inert_line(notice), yellow=True)
    for line in lines:
        say(inert_line(line), yellow=True)
    if result is not None:
        r = result.report
        # Tries that got no answer are requests too: "0 request(s)" after six failed tries misled.
        failed = f" answered, {r.failed_tries} failed HTTP tr{'y' if r.failed_tries == 1 else 'ies'}"
        say(
            f"cost ${r.cost_usd:.4f} · {r.api_requests} request(s)"
            + (failed if r.failed_tries else "")
            + f" · {r.cache_hits} cache hit(s)"
            f" · saved ${r.saved_usd:.4f} · {r.local_answers} local answer(s)"
        )


def _fit(text: str, limit: int = MAX_LINE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _report_hint(config: pytest.Config) -> str:
    target = str(_option(config, "assist_report") or "")
    return f"full list in {target}" if target else "--assist-report PATH writes the full list"


def _folded(group: Any) -> str:
    """`× 148 in 12 tests: test_a, test_b, … (full list in --assist-report)`."""
    tests = group.tests()
    shown = ", ".join(tests[:FOLD]) + (", …" if len(tests) > FOLD else "")
    noun = "test" if len(tests) == 1 else "tests"
    return f"× {len(group.failures)} in {len(tests)} {noun}: {shown} (full list in --assist-report)"


def _code_lines(suspect: dict[str, Any]) -> list[str]:
    """`code: path:line in func (why)` and the suspect lines with their numbers, the prime one marked."""

    line = int(suspect.get("line") or 0)
    out = [f"  code: {suspect.get('path', '')}:{line} in {suspect.get('func', '')} ({suspect.get('why', '')})"]
    for n in sorted({int(x) for x in suspect.get("lines") or ()} | {line}):
        text = suspect_line(suspect, n)
        if text:
            out.append(f"    {'>' if n == line else ' '} {n:>5} | {text}")
    return out


def _block(say: Callable[[str], None], label: str, text: str) -> None:
    """`text` indented under `label`, wrapped at WRAP columns; `say` makes each line inert (it splits on
    \\n only, never on the other separators `str.splitlines` knows)."""
    import textwrap

    lines = [ln.rstrip() for ln in clean(text).strip().split("\n")] or ["-"]
    pad = " " * (len(label) + 2)
    first = True
    for ln in lines:
        for piece in textwrap.wrap(ln, WRAP, break_long_words=True, break_on_hyphens=False) or [""]:
            if first:
                say("  " + label + (piece or "-"))
            else:
                say(pad + piece if piece else "")
            first = False


@contextlib.contextmanager
def pytest_progress(config: pytest.Config, noun: str = "failures") -> Iterator[Progress | None]:
    """For `pytest --assist` at session end: pytest's output capture is suspended (so stderr is the real
    terminal, or the CI log) while the block runs; yields a Progress, or None when it would be off.

        with pytest_progress(config) as progress:
            explained = explain_failures(..., progress=progress)
    """
    capman = config.pluginmanager.getplugin("capturemanager")
    suspended = capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()
    with suspended:
        progress = stderr_progress(None, noun)
        try:
            yield progress
        finally:
            if progress is not None:
                progress.close()
