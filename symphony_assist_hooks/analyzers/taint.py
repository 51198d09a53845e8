"""Follow the data in one Python file: untrusted input (or weak randomness) reaching a sink, per category.

An abstract interpreter over `ast`: intra-file, intra-procedural, flow-sensitive over a function's statements
(branches joined, loops run twice), with a summary per in-file helper function (which parameters reach its
return value, and which reach a sink inside it). Every value is a `V`: the kinds of data in it ("user" for
request data, `input()`, `sys.argv` and the environment; "random" for the `random` module), the categories a
sanitiser made it safe for, and, when the analysis can prove it, its constant value or its list/dict shape.

Why our own engine and not Semgrep's taint mode: the analyzers run on the hook's miss path, where the whole
security analyzer on a typical commit costs a few hundred milliseconds. Semgrep starts a Python wrapper and an
OCaml binary per run and is a large install; its start-up was not measured here (that would be the first
thing to measure before switching). What decided it: the false positives to remove need constant folding
(`7 * 42 - 86 > 200`, `["safe", x][0]`, a dict entry by a constant key, a `match` on a constant), which a
taint rule does not express, and this module costs ~0.1 ms per line (bench/websec.py: the security analyzer
with it vs without it on a typical commit) with nothing to install beyond the standard library.

What it proves is also what the security analyzer uses to drop bandit's false positives: `line_constant`
says, for every line holding a sink call or a string built from pieces, whether every such value on it was a
provable constant (then a bandit finding there is noise).
"""

from __future__ import annotations

import ast
import contextlib
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["CATEGORIES", "TaintHit", "TaintResult", "analyze_source", "analyze_tree"]

# category → (rule, title, suggestion)
CATEGORIES: dict[str, tuple[str, str, str]] = {
    "cmdi": (
        "taint/command-injection",
        "command injection",
        "Pass an argument list without a shell, or quote each value with shlex.quote.",
    ),
    "sqli": (
        "taint/sql-injection",
        "SQL injection",
        "Use a constant query with placeholders: cursor.execute(sql, (value,)).",
    ),
    "codei": (
        "taint/code-injection",
        "code injection",
        "Never eval/exec input; parse it (ast.literal_eval, json) or dispatch through a dict.",
    ),
    "pathtraver": (
        "taint/path-traversal",
        "path traversal",
        "Use os.path.basename/secure_filename, or check realpath(path).startswith(base) before opening it.",
    ),
    "xss": (
        "taint/xss",
        "cross-site scripting (XSS)",
        "Escape the value (markupsafe.escape) or render it through an autoescaping template.",
    ),
    "xpathi": (
        "taint/xpath-injection",
        "XPath injection",
        "Use a constant expression with variables: tree.xpath('//u[@name=$n]', n=value).",
    ),
    "ldapi": (
        "taint/ldap-injection",
        "LDAP injection",
        "Escape the value with ldap.filter.escape_filter_chars (or build the filter with filter_format).",
    ),
    "redirect": (
        "taint/open-redirect",
        "open redirect",
        "Redirect only to url_for(...) targets, or check urlparse(url).netloc against your own host first.",
    ),
    "securecookie": (
        "taint/insecure-cookie",
        "cookie without secure/httponly",
        "Pass secure=True and httponly=True to set_cookie.",
    ),
    "trustbound": (
        "taint/trust-boundary",
        "request data stored in the session (trust boundary)",
        "Validate the value (type, range, allow-list) before it goes into the session.",
    ),
    "deserialization": (
        "taint/unsafe-deserialization",
        "unsafe deserialisation",
        "Use json or yaml.safe_load; never unpickle or unsafe-load data you did not write.",
    ),
    "xxe": (
        "taint/xxe",
        "XML parser resolves external entities (XXE)",
        "Leave external entities off (resolve_entities=False, feature_external_ges False) or use defusedxml.",
    ),
    "hash": (
        "taint/weak-hash",
        "weak hash (MD5/SHA1)",
        "Use hashlib.sha256, or bcrypt/argon2/scrypt for passwords.",
    ),
    "weakrand": (
        "taint/weak-random",
        "non-cryptographic random value used as a secret",
        "Use the secrets module (secrets.token_urlsafe) for tokens, session values and cookies.",
    ),
}
INJECTION = frozenset(CATEGORIES) - {"weakrand"}
ALL = frozenset(CATEGORIES)


class _NoConst:
    def __repr__(self) -> str:
        return "<no constant>"


NOCONST: Any = _NoConst()


class _SafeParser:
    def __repr__(self) -> str:
        return "<lxml parser with resolve_entities=False>"


SAFE_PARSER: Any = _SafeParser()


@dataclass(frozen=True)
class V:
    """An abstract value."""

    kinds: frozenset[str] = frozenset()  # "user", "random", "p0", "p1"… (a helper's parameters)
    clean: frozenset[str] = frozenset()  # categories a sanitiser made it safe for
    const: Any = NOCONST
    items: tuple[V, ...] | None = None  # a list/tuple of known length
    entries: tuple[tuple[Any, V], ...] | None = None  # a dict with constant keys
    request: bool = False  # the request object itself
    origin: int = 0  # line where the data entered
    proven: frozenset[str] = frozenset()  # categories it is provably safe for (constant, or sanitised)

    @property
    def is_const(self) -> bool:
        return self.const is not NOCONST

    def proven_for(self) -> frozenset[str]:
        return ALL if self.is_const and not self.kinds else self.proven

    def flat(self) -> V:
        return V(self.kinds, self.clean, origin=self.origin, proven=self.proven_for())


UNKNOWN = V()
USER = frozenset({"user"})  # from a request: someone else's data
LOCAL = frozenset({"local"})  # the command line, the environment, the terminal: the person running the program


def join(*values: V) -> V:
    if not values:
        return UNKNOWN
    proven = frozenset.intersection(*(v.proven_for() for v in values))
    tainted = [v for v in values if v.kinds]
    if not tainted:
        consts = {repr(v.const) for v in values}
        if len(consts) == 1 and values[0].is_const:
            return values[0]
        return V(proven=proven)
    kinds = frozenset().union(*(v.kinds for v in tainted))
    clean = frozenset.intersection(*(v.clean for v in tainted))
    origin = min((v.origin for v in tainted if v.origin), default=0)
    return V(kinds, clean, origin=origin, proven=proven)


def _dirty(value: V, category: str) -> bool:
    if category in value.clean:
        return False
    if category == "weakrand":
        return "random" in value.kinds
    if category == "pathtraver":  # a path given on the command line is the user's own choice
        return any(k not in {"random", "local"} for k in value.kinds)
    return any(k != "random" for k in value.kinds)


def _from_source(value: V, category: str) -> bool:
    """Whether data from a real source (not a helper's parameter marker) reaches a sink of `category`."""
    sources = value.kinds & {"user", "local", "random"}
    return bool(sources) and _dirty(replace(value, kinds=sources), category)


@dataclass(frozen=True)
class TaintHit:
    category: str
    line: int
    end_line: int
    sink: str
    origin: int = 0  # where the data came from (0 when not a data flow)


@dataclass
class TaintResult:
    hits: list[TaintHit] = field(default_factory=list)
    line_constant: dict[int, bool] = field(default_factory=dict)
    line_proven: dict[int, frozenset[str]] = field(default_factory=dict)  # categories every value there is safe for
    external_entities: bool = False  # some SAX/pulldom feature for external entities switched on
    safe_xml_lines: set[int] = field(default_factory=set)  # lxml parse calls given a parser without entities


# ------------------------------------------------------------------------------------------ tables
_REQUEST_NAMES = {"flask.request", "quart.request", "bottle.request", "werkzeug.local.request"}
_WEB_FRAMEWORKS = {"flask", "django", "fastapi", "starlette", "quart", "bottle", "werkzeug", "rest_framework"}
_REQUEST_SOURCES = {
    "args", "form", "values", "json", "headers", "cookies", "files", "data", "GET", "POST", "COOKIES", "META",
    "FILES", "body", "query_params", "path_params", "path", "full_path", "url", "base_url", "query_string",
    "referrer", "user_agent", "environ", "stream", "get_json", "get_data", "view_args", "remote_user",
}  # fmt: skip
_REQUEST_METHODS = {"get_json", "get_data", "json", "body", "form", "read"}
_ROUTE_DECORATORS = {"route", "get", "post", "put", "delete", "patch", "api_route", "websocket", "api_view"}
_SAFE_PARAM_TYPES = {"int", "float", "bool", "UUID", "uuid.UUID", "datetime", "date"}
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "/bin/sh", "/bin/bash", "/usr/bin/bash", "cmd", "cmd.exe", "powershell"}
_KILL_USER = {
    "int", "float", "bool", "len", "abs", "round", "ord", "isinstance", "hash", "id", "callable",
    "uuid.uuid4", "uuid.UUID", "hashlib.sha256", "hashlib.sha512", "hashlib.md5", "hashlib.sha1",
    "hashlib.new", "hmac.new", "hmac.compare_digest", "secrets.compare_digest", "decimal.Decimal",
    "datetime.date.fromisoformat", "ipaddress.ip_address",
}  # fmt: skip
_SANITISERS: dict[str, frozenset[str]] = {
    "shlex.quote": frozenset({"cmdi"}),
    "pipes.quote": frozenset({"cmdi"}),
    "html.escape": frozenset({"xss"}),
    "cgi.escape": frozenset({"xss"}),
    "markupsafe.escape": frozenset({"xss"}),
    "flask.escape": frozenset({"xss"}),
    "jinja2.escape": frozenset({"xss"}),
    "django.utils.html.escape": frozenset({"xss"}),
    "django.utils.html.format_html": frozenset({"xss"}),
    "bleach.clean": frozenset({"xss"}),
    "urllib.parse.quote": frozenset({"xss", "cmdi", "ldapi", "xpathi", "sqli"}),
    "urllib.parse.quote_plus": frozenset({"xss", "cmdi", "ldapi", "xpathi", "sqli"}),
    "os.path.basename": frozenset({"pathtraver"}),
    "werkzeug.utils.secure_filename": frozenset({"pathtraver"}),
    "werkzeug.secure_filename": frozenset({"pathtraver"}),
    "werkzeug.utils.safe_join": frozenset({"pathtraver"}),
    "werkzeug.security.safe_join": frozenset({"pathtraver"}),
    "flask.safe_join": frozenset({"pathtraver"}),
    "ldap.filter.escape_filter_chars": frozenset({"ldapi"}),
    "ldap3.utils.conv.escape_filter_chars": frozenset({"ldapi"}),
    "ldap.dn.escape_dn_chars": frozenset({"ldapi"}),
    "ldap.filter.filter_format": frozenset({"ldapi"}),
    "psycopg2.sql.Literal": frozenset({"sqli"}),
    "psycopg2.sql.Identifier": frozenset({"sqli"}),
    "flask.url_for": INJECTION,
    "django.urls.reverse": INJECTION,
    "flask.jsonify": frozenset({"xss"}),
    "flask.render_template": frozenset({"xss"}),
    "django.shortcuts.render": frozenset({"xss"}),
    "django.http.JsonResponse": frozenset({"xss"}),
}
_CMD_STRING = {
    "os.system", "os.popen", "os.popen2", "os.popen3", "os.popen4", "subprocess.getoutput",
    "subprocess.getstatusoutput", "commands.getoutput", "asyncio.create_subprocess_shell", "pty.spawn",
}  # fmt: skip
_SUBPROCESS = {
    "subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output", "subprocess.Popen",
    "asyncio.create_subprocess_exec", "os.execv", "os.execvp", "os.execl", "os.execlp", "os.spawnl", "os.spawnv",
}  # fmt: skip
_SQL_METHODS = {"execute", "executemany", "executescript", "raw", "read_sql", "read_sql_query", "extra"}
_SQL_FUNCTIONS = {
    "sqlalchemy.text", "sqlalchemy.sql.text", "django.db.models.expressions.RawSQL", "django.db.models.RawSQL",
}  # fmt: skip
_CODE = {"eval", "exec", "compile", "builtins.eval", "builtins.exec", "builtins.compile"}
_PATH_FUNCTIONS = {
    "open", "io.open", "codecs.open", "os.open", "os.remove", "os.unlink", "os.rmdir", "os.listdir", "os.mkdir",
    "os.makedirs", "os.rename", "os.replace", "shutil.copy", "shutil.copyfile", "shutil.move", "shutil.rmtree",
    "flask.send_file", "fastapi.responses.FileResponse", "starlette.responses.FileResponse",
    "django.http.FileResponse", "os.scandir", "os.chmod", "tarfile.open", "zipfile.ZipFile",
}  # fmt: skip
_PATH_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "unlink", "rmdir", "mkdir", "iterdir"}
_XSS_FUNCTIONS = {
    "flask.make_response", "flask.Response", "werkzeug.Response", "werkzeug.wrappers.Response",
    "django.http.HttpResponse", "fastapi.responses.HTMLResponse", "starlette.responses.HTMLResponse",
    "fastapi.responses.Response", "starlette.responses.Response", "markupsafe.Markup", "flask.Markup",
    "jinja2.Markup", "django.utils.safestring.mark_safe", "flask.render_template_string", "jinja2.Template",
    "flask.templating.render_template_string", "fastapi.Response",
}  # fmt: skip
_REDIRECTS = {
    "flask.redirect", "werkzeug.utils.redirect", "django.shortcuts.redirect", "django.http.HttpResponseRedirect",
    "django.http.HttpResponsePermanentRedirect", "fastapi.responses.RedirectResponse",
    "starlette.responses.RedirectResponse",
}  # fmt: skip
_RESPONSES = {  # what they send is a file, JSON or a template, not the argument as HTML
    "flask.send_file", "flask.send_from_directory", "fastapi.responses.FileResponse",
    "starlette.responses.FileResponse", "django.http.FileResponse", "flask.jsonify", "django.http.JsonResponse",
    "fastapi.responses.JSONResponse",
    "starlette.responses.JSONResponse", "flask.render_template", "django.shortcuts.render", "flask.abort",
}  # fmt: skip
_XPATH_FUNCTIONS = {"lxml.etree.XPath", "lxml.etree.ETXPath", "lxml.etree.XPathEvaluator"}
_LDAP_METHODS = {"search_s": 2, "search_st": 2, "search_ext": 2, "search_ext_s": 2, "search": 1}
_DESERIALISE = {
    "pickle.loads", "pickle.load", "pickle.Unpickler", "cPickle.loads", "cPickle.load", "_pickle.loads",
    "dill.loads", "dill.load", "marshal.loads", "marshal.load", "jsonpickle.decode", "jsonpickle.loads",
    "shelve.open", "pandas.read_pickle", "yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load",
}  # fmt: skip
_SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}
_WEAK_HASHES = {"md5", "sha1", "md4", "md2", "sha", "ripemd160"}
_WEAK_HASH_CALLS = {
    "hashlib.md5", "hashlib.sha1", "Crypto.Hash.MD5.new", "Crypto.Hash.SHA.new", "Crypto.Hash.SHA1.new",
    "Cryptodome.Hash.MD5.new", "cryptography.hazmat.primitives.hashes.MD5",
    "cryptography.hazmat.primitives.hashes.SHA1",
}  # fmt: skip
_EXTERNAL_FEATURES = {
    "feature_external_ges", "feature_external_pes", "http://xml.org/sax/features/external-general-entities",
    "http://xml.org/sax/features/external-parameter-entities",
}  # fmt: skip
_SAFE_RANDOM = {"random.SystemRandom"}
# A whole-value allow-list of word characters: r"[A-Za-z0-9_-]{1,64}", r"^\w+$", r"\d+".
_ALLOW_PATTERN = re.compile(r"^\^?(\[(?:A-Z|a-z|0-9|_|-|\\w|\\d)+\]|\\w|\\d)(\+|\*|\{\d+(,\d*)?\})\$?(\\Z)?$")
# Functions whose result is determined by their arguments (constant in, constant out; sanitised stays so).
_PURE = {
    "compile", "os.path.join", "posixpath.join", "base64.b64encode", "base64.b64decode", "base64.urlsafe_b64encode",
    "base64.urlsafe_b64decode", "bytes.fromhex", "json.dumps", "sqlalchemy.text", "sqlalchemy.sql.text", "str",
    "os.path.normpath", "urllib.parse.urljoin", "textwrap.dedent", "min", "max", "sorted", "list", "tuple",
}  # fmt: skip
_STR_METHODS = {
    "upper", "lower", "strip", "lstrip", "rstrip", "replace", "split", "join", "title", "capitalize", "format",
    "encode", "decode", "zfill", "center", "ljust", "rjust", "removeprefix", "removesuffix", "casefold",
    "splitlines", "partition", "rpartition", "swapcase", "startswith", "endswith", "isdigit", "isalnum",
}  # fmt: skip
_MUTATORS = {"append", "extend", "insert", "pop", "update", "setdefault", "add", "remove", "clear", "__setitem__"}
_TERMINATORS = {"abort", "flask.abort", "sys.exit", "exit", "werkzeug.exceptions.abort", "fastapi.HTTPException"}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
    ast.BitXor: operator.xor, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}  # fmt: skip
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}  # fmt: skip
_BUILTINS: dict[str, Callable[[Any], Any]] = {
    "int": int, "float": float, "bool": bool, "len": len, "abs": abs, "round": round, "ord": ord,
}  # fmt: skip
_CONVERTERS: dict[str, Callable[[Any], Any]] = {"str": str, "repr": repr, "bytes": bytes, "format": format}
_CONST_TYPES = (str, int, float, bool, bytes, type(None), tuple)
_MAX_CONST = 10_000


def _safe_const(value: Any) -> bool:
    if isinstance(value, str | bytes | tuple):
        return len(value) <= _MAX_CONST
    return isinstance(value, _CONST_TYPES)


# ------------------------------------------------------------------------------------------ helpers
@dataclass
class _Summary:
    returns: set[int] = field(default_factory=set)  # parameter indexes whose data reaches the return value
    ret: V = UNKNOWN  # the return value with the parameters' markers removed (sources inside, clean flags)
    sinks: list[tuple[int, str, int, int, str]] = field(default_factory=list)  # (param, category, line, end, sink)


class _Stop(Exception):
    """Raised to end a statement list after return/raise/abort (the rest is unreachable on that path)."""


class _Function:
    def __init__(self, node: ast.FunctionDef | ast.AsyncFunctionDef, owner: str) -> None:
        self.node = node
        self.name = node.name
        self.owner = owner  # "" for module-level functions, the class name for methods
        self.params = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]


class _Analysis:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.result = TaintResult()
        self.aliases: dict[str, str] = {}
        self.functions: dict[str, _Function] = {}
        self.summaries: dict[str, _Summary | None] = {}
        self.module_env: dict[str, V] = {}
        self.fastapi = False
        self.seen_hits: set[tuple[str, int]] = set()
        self._handlers: dict[int, bool] = {}
        self.web = False  # the file imports a web framework
        self._collect(tree)

    # -- set-up ----------------------------------------------------------------------------------
    def _collect(self, tree: ast.Module) -> None:
        for node in _statements(tree.body):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.aliases[(a.asname or a.name).split(".")[0]] = (a.asname and a.name) or a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                if node.module.split(".")[0] in {"fastapi", "starlette"}:
                    self.fastapi = True
        self.web = any(target.split(".")[0] in _WEB_FRAMEWORKS for target in self.aliases.values())
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions[stmt.name] = _Function(stmt, "")

    def qualname(self, node: ast.expr) -> str:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Call):  # random.Random().choice → random.Random().choice
            inner = self.qualname(node.func)
            return ".".join([f"{inner}()", *reversed(parts)]) if inner else ""
        if not isinstance(node, ast.Name):
            return ""
        root = self.aliases.get(node.id, node.id)
        return ".".join([root, *reversed(parts)])

    def run(self) -> TaintResult:
        module = _Frame(self, None, {})
        with contextlib.suppress(_Stop):  # a script may `raise SystemExit` or call sys.exit() at top level
            module.block([s for s in self.tree.body if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)])
        self.module_env = dict(module.env)
        for fn in self._all_functions(self.tree, ""):
            if self.is_handler(fn):
                _Frame(self, fn, self._entry_env(fn)).run_body()
            elif self.functions.get(fn.name) is not None and self.functions[fn.name].node is fn.node:
                self.summary(fn.name)  # one run gives its findings and its summary
            else:  # a method or a nested function: parameters are unknown data
                _Frame(self, fn, self._marked(fn), summary=_Summary()).run_body()
        return self.result

    @staticmethod
    def _marked(fn: _Function) -> dict[str, V]:
        return {p: V(frozenset({f"p{i}"})) for i, p in enumerate(fn.params)}

    def _all_functions(self, node: ast.AST, owner: str) -> Iterator[_Function]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield _Function(child, owner)
                yield from self._all_functions(child, owner)
            elif isinstance(child, ast.ClassDef):
                yield from self._all_functions(child, child.name)
            elif not isinstance(child, ast.expr):
                yield from self._all_functions(child, owner)

    def is_handler(self, fn: _Function) -> bool:
        key = id(fn.node)
        if key not in self._handlers:
            self._handlers[key] = self._is_handler(fn)
        return self._handlers[key]

    def routed(self, fn: _Function) -> bool:
        """A route handler (`@app.route`, `@router.get`, …): what it returns is the response body."""
        for deco in fn.node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            name = self.qualname(target)
            if name.rsplit(".", 1)[-1] in _ROUTE_DECORATORS and "." in name:
                return True
        return False

    def _is_handler(self, fn: _Function) -> bool:
        # or a Django-style view: a module-level function taking `request` first, in a file of a web framework
        # (its parameters are request data; what it returns is not a body: Django wants an HttpResponse, and
        # such a function is as often a helper, djangorestframework's get_authorization_header(request))
        return self.routed(fn) or (self.web and bool(fn.params) and fn.params[0] in {"request", "req"} and not fn.owner)

    def _route_ints(self, fn: _Function) -> set[str]:
        out: set[str] = set()
        for deco in fn.node.decorator_list:
            if isinstance(deco, ast.Call) and deco.args and isinstance(deco.args[0], ast.Constant):
                path = str(deco.args[0].value)
                for conv in ("int", "float", "uuid"):
                    out |= {p.split(">")[0] for p in path.split(f"<{conv}:")[1:]}
        return out

    def _entry_env(self, fn: _Function) -> dict[str, V]:
        env: dict[str, V] = {}
        handler = self.is_handler(fn)
        typed = self._route_ints(fn) if handler else set()
        args = fn.node.args
        all_args = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        defaults: dict[str, ast.expr] = {}
        positional = [*args.posonlyargs, *args.args]
        for a, d in zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True):
            defaults[a.arg] = d
        for a, kd in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            if kd is not None:
                defaults[a.arg] = kd
        for a in all_args:
            ann = self.qualname(a.annotation) if a.annotation is not None else ""
            if self.web and (a.arg in {"request", "req"} or ann.endswith("Request")):
                env[a.arg] = V(request=True)
            elif (
                not handler
                or a.arg in {"self", "cls"}
                or a.arg in typed
                or ann in _SAFE_PARAM_TYPES
                or (
                    a.arg in defaults
                    and isinstance(defaults[a.arg], ast.Call)
                    and self.qualname(
                        defaults[a.arg].func  # type: ignore[attr-defined]
                    ).endswith("Depends")
                )
            ):
                env[a.arg] = UNKNOWN
            else:
                env[a.arg] = V(USER, origin=fn.node.lineno)
        return env

    def summary(self, name: str) -> _Summary | None:
        if name in self.summaries:
            return self.summaries[name]
        fn = self.functions.get(name)
        if fn is None or self.is_handler(fn):
            return None
        self.summaries[name] = None  # recursion: no summary while computing one
        frame = _Frame(self, fn, self._marked(fn), summary=_Summary())
        frame.run_body()
        summary = frame.summary
        assert summary is not None
        ret = frame.returned
        summary.returns = {int(k[1:]) for k in ret.kinds if k[:1] == "p" and k[1:].isdigit()}
        kinds = frozenset(k for k in ret.kinds if not (k[:1] == "p" and k[1:].isdigit()))
        summary.ret = V(kinds, ret.clean, ret.const, origin=ret.origin)
        self.summaries[name] = summary
        return summary

    def hit(self, category: str, node: ast.AST, sink: str, value: V | None) -> None:
        line = getattr(node, "lineno", 0)
        if (category, line) in self.seen_hits:
            return
        self.seen_hits.add((category, line))
        origin = value.origin if value is not None else 0
        end = getattr(node, "end_lineno", line) or line
        self.result.hits.append(TaintHit(category, line, end, sink, origin))

    def record(self, node: ast.AST, value: V) -> None:
        line = getattr(node, "lineno", 0)
        constant = value.is_const and not value.kinds
        self.result.line_constant[line] = self.result.line_constant.get(line, True) and constant
        self.result.line_proven[line] = self.result.line_proven.get(line, ALL) & value.proven_for()


class _Frame:
    """One run over one function body (or the module's top level)."""

    def __init__(
        self, analysis: _Analysis, fn: _Function | None, env: dict[str, V], summary: _Summary | None = None
    ) -> None:
        self.a = analysis
        self.fn = fn
        self.env = env
        self.summary = summary
        self.returned = UNKNOWN
        self.handler = fn is not None and analysis.is_handler(fn)
        self.body_returned = self.handler and fn is not None and analysis.routed(fn)
        self.normalised: set[str] = set()  # names assigned a realpath/abspath/resolve() result
        self.generators: set[str] = set()  # names assigned a random.Random(...) instance
        self.json_returns = analysis.fastapi and not self._html_response()

    def _html_response(self) -> bool:
        if self.fn is None:
            return False
        for deco in self.fn.node.decorator_list:
            if isinstance(deco, ast.Call):
                for kw in deco.keywords:
                    if kw.arg == "response_class" and "HTML" in ast.unparse(kw.value):
                        return True
        return False

    def run_body(self) -> None:
        assert self.fn is not None
        with contextlib.suppress(_Stop):
            self.block(self.fn.node.body)

    # -- sinks -----------------------------------------------------------------------------------
    def sink(self, category: str, node: ast.AST, value: V, sink: str) -> None:
        if self.summary is not None:
            for k in value.kinds:
                if k[:1] == "p" and k[1:].isdigit() and category not in value.clean:
                    line = getattr(node, "lineno", 0)
                    end = getattr(node, "end_lineno", line) or line
                    self.summary.sinks.append((int(k[1:]), category, line, end, sink))
        if _from_source(value, category):
            self.a.hit(category, node, sink, value)

    # -- statements ------------------------------------------------------------------------------
    def block(self, body: Sequence[ast.stmt]) -> None:
        for stmt in body:
            self.stmt(stmt)

    def branch(self, body: Sequence[ast.stmt], env: dict[str, V]) -> tuple[dict[str, V], bool]:
        saved = self.env
        self.env = dict(env)
        stopped = False
        try:
            self.block(body)
        except _Stop:
            stopped = True
        out, self.env = self.env, saved
        return out, stopped

    def merge(self, *envs: dict[str, V]) -> dict[str, V]:
        if len(envs) == 1:
            return envs[0]
        out: dict[str, V] = {}
        for name in set().union(*envs):
            values = [e.get(name, UNKNOWN) for e in envs]
            if all(v == values[0] for v in values):
                out[name] = values[0]
            else:
                out[name] = join(*values)
        return out

    def stmt(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            value = self.ev(node.value)
            for target in node.targets:
                self.assign(target, value, node)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.ev(node.value), node)
        elif isinstance(node, ast.AugAssign):
            current = self.ev(node.target)
            value = self._binop(node.op, current, self.ev(node.value), node)
            self.assign(node.target, value, node)
        elif isinstance(node, ast.Expr):
            value = self.ev(node.value)
            if isinstance(node.value, ast.Call) and self.a.qualname(node.value.func) in _TERMINATORS:
                raise _Stop
            del value
        elif isinstance(node, ast.Return):
            value = self.ev(node.value) if node.value is not None else V(const=None)
            self.returned = join(self.returned, value) if self.returned is not UNKNOWN else value
            if self.body_returned:
                self._handler_return(node, value)
            raise _Stop
        elif isinstance(node, ast.Raise):
            if node.exc is not None:
                self.ev(node.exc)
            raise _Stop
        elif isinstance(node, ast.If):
            self._if(node)
        elif isinstance(node, ast.For | ast.AsyncFor):
            iterable = self.ev(node.iter)
            element = join(*iterable.items) if iterable.items else iterable.flat()
            if iterable.entries is not None:
                element = V(const=NOCONST)
            before = dict(self.env)
            self.assign(node.target, element, node)
            first, _ = self.branch(node.body, self.env)
            self.env = self.merge(before, first)
            self.assign(node.target, element, node)
            second, _ = self.branch(node.body, self.env)
            self.env = self.merge(before, first, second)
            self.block(node.orelse)
        elif isinstance(node, ast.While):
            test = self.ev(node.test)
            if test.is_const and not test.const:
                self.block(node.orelse)
                return
            before = dict(self.env)
            first, _ = self.branch(node.body, self.env)
            second, _ = self.branch(node.body, self.merge(before, first))
            self.env = self.merge(before, first, second)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                value = self.ev(item.context_expr)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, value.flat() if value.kinds else UNKNOWN, node)
            self.block(node.body)
        elif isinstance(node, ast.Try | ast.TryStar):
            before = dict(self.env)
            body_env, stopped = self.branch(node.body, self.env)
            envs = [] if stopped else [body_env]
            for handler in node.handlers:
                h_env, h_stop = self.branch(handler.body, self.merge(before, body_env))
                if not h_stop:
                    envs.append(h_env)
            if not envs:
                self.block(node.finalbody)
                raise _Stop
            self.env = self.merge(*envs)
            if not stopped:
                self.block(node.orelse)
            self.block(node.finalbody)
        elif isinstance(node, ast.Match):
            self._match(node)
        elif isinstance(node, ast.Delete | ast.Pass | ast.Break | ast.Continue | ast.Global | ast.Nonlocal):
            if isinstance(node, ast.Break | ast.Continue):
                raise _Stop
        elif isinstance(node, ast.Assert):
            self.ev(node.test)
        # function and class definitions are analysed on their own

    def _handler_return(self, node: ast.Return, value: V) -> None:
        if self.json_returns or value.entries is not None or value.items == ():
            return  # FastAPI encodes what a handler returns as JSON; Flask does that with a dict
        body = value.items[0] if value.items else value  # (body, status) tuples
        self.sink("xss", node, body, "the response body (returned from a handler)")

    def _if(self, node: ast.If) -> None:
        test = self.ev(node.test)
        if test.is_const and not test.kinds:
            try:
                truth = bool(test.const)
            except Exception:
                truth = None
            if truth is not None:
                self.block(node.body if truth else node.orelse)
                return
        guarded, negated = self._guard(node.test)
        env_yes = dict(self.env)
        env_no = dict(self.env)
        for name, category in guarded:
            target = env_no if negated else env_yes
            if name in target:
                value = target[name]
                target[name] = replace(value, clean=value.clean | {category}, proven=value.proven_for() | {category})
        yes, yes_stop = self.branch(node.body, env_yes)
        no, no_stop = self.branch(node.orelse, env_no)
        if yes_stop and no_stop:
            raise _Stop
        self.env = no if yes_stop else yes if no_stop else self.merge(yes, no)

    def _guard(self, test: ast.expr) -> tuple[list[tuple[str, str]], bool]:
        """Names a condition checks (containment of a path, host of a URL), and whether it is negated."""
        negated = False
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            negated, test = True, test.operand
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.NotEq):
            negated = not negated  # `commonpath(...) != base`, `netloc != ""`: the check passes when it is false
        nodes = list(ast.walk(test))
        names = [n.id for n in nodes if isinstance(n, ast.Name)]
        words = {n.attr for n in nodes if isinstance(n, ast.Attribute)} | set(names)
        out: list[tuple[str, str]] = []
        checked = [n for n in names if n in self.normalised]
        if "startswith" in words and (words & {"realpath", "abspath", "resolve"} or checked):
            out += [(n, "pathtraver") for n in names]
        if words & {"commonpath", "is_relative_to"}:
            out += [(n, "pathtraver") for n in names]
        if words & {"netloc", "url_has_allowed_host_and_scheme", "is_safe_url"}:
            out += [(n, "redirect") for n in names]
        if isinstance(test, ast.Call) and self.a.qualname(test.func) in {"re.fullmatch", "re.match"}:
            pattern = self.ev(test.args[0]) if test.args else UNKNOWN
            subject = test.args[1] if len(test.args) > 1 else None
            if pattern.is_const and isinstance(subject, ast.Name) and _ALLOW_PATTERN.match(str(pattern.const)):
                out += [(subject.id, c) for c in INJECTION]
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.In | ast.NotIn):
            container = self.ev(test.comparators[0])
            if container.is_const or container.items is not None:  # an allow-list of constants
                negated ^= isinstance(test.ops[0], ast.NotIn)
                if isinstance(test.left, ast.Name):
                    out += [(test.left.id, c) for c in INJECTION]
        return out, negated

    def _match(self, node: ast.Match) -> None:
        subject = self.ev(node.subject)
        envs: list[dict[str, V]] = []
        for case in node.cases:
            pattern = case.pattern
            if subject.is_const and case.guard is None:
                if isinstance(pattern, ast.MatchValue):
                    value = self.ev(pattern.value)
                    if value.is_const and value.const != subject.const:
                        continue
                    if value.is_const:
                        self._last_case(case, envs)
                        return
                if isinstance(pattern, ast.MatchAs) and pattern.pattern is None:
                    self._last_case(case, envs)
                    return
            env, stopped = self.branch(case.body, self.env)
            if not stopped:
                envs.append(env)
        envs.append(dict(self.env))
        self.env = self.merge(*envs)

    def _last_case(self, case: ast.match_case, envs: list[dict[str, V]]) -> None:
        """A case that matches whenever no case before it did: later cases never run; earlier ones still may."""
        env, stopped = self.branch(case.body, self.env)
        if not stopped:
            envs.append(env)
        if not envs:
            raise _Stop
        self.env = self.merge(*envs)

    # -- assignment ------------------------------------------------------------------------------
    def assign(self, target: ast.expr, value: V, stmt: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = value
            source = getattr(stmt, "value", None)
            if isinstance(source, ast.Call) and self.a.qualname(source.func).endswith(
                ("realpath", "abspath", "resolve", "normpath")
            ):
                self.normalised.add(target.id)
            else:
                self.normalised.discard(target.id)
            if isinstance(source, ast.Call) and self.a.qualname(source.func) == "random.Random":
                self.generators.add(target.id)
            else:
                self.generators.discard(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            elts = target.elts
            if value.items is not None and len(value.items) == len(elts):
                for elt, item in zip(elts, value.items, strict=True):
                    self.assign(elt, item, stmt)
            else:
                for elt in elts:
                    self.assign(elt.value if isinstance(elt, ast.Starred) else elt, value.flat(), stmt)
        elif isinstance(target, ast.Subscript):
            key = self.ev(target.slice)
            if self._is_session(target.value):
                self.sink("trustbound", stmt, join(key, value), "the session")
                self.sink("weakrand", stmt, value, "the session")
                return
            self._store_item(target.value, key, value)
        elif isinstance(target, ast.Attribute):
            root = _root_name(target)
            if root is not None and root in self.env and value.kinds:
                self.env[root] = join(self.env[root], value)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value.flat(), stmt)

    def _is_session(self, node: ast.expr) -> bool:
        name = self.a.qualname(node)
        if name in {"flask.session", "session"} and not (isinstance(node, ast.Name) and node.id in self.env):
            return True
        return isinstance(node, ast.Attribute) and node.attr == "session" and self.ev(node.value).request

    def _store_item(self, container: ast.expr, key: V, value: V) -> None:
        if isinstance(container, ast.Name) and container.id in self.env:
            current = self.env[container.id]
            if current.entries is not None and key.is_const:
                entries: dict[Any, V] = dict(current.entries)
                try:
                    entries[key.const] = value
                except TypeError:
                    self.env[container.id] = join(current.flat(), value)
                    return
                self.env[container.id] = _dict_value(entries)
                return
            if current.items is not None and key.is_const and isinstance(key.const, int):
                items = list(current.items)
                if -len(items) <= key.const < len(items):
                    items[key.const] = value
                    self.env[container.id] = _list_value(items)
                    return
            self.env[container.id] = join(current.flat(), value) if value.kinds else current
            return
        root = _root_name(container)
        if root is not None and root in self.env and value.kinds:
            base = self.env[root]
            if base.entries is not None and isinstance(container, ast.Subscript):
                outer = self.ev(container.slice)
                inner = self.ev(container)
                if outer.is_const and key.is_const:
                    entries = dict(inner.entries or ())
                    entries[key.const] = value
                    self._store_item(container.value, outer, _dict_value(entries))
                    return
            self.env[root] = join(base.flat(), value)

    # -- expressions -----------------------------------------------------------------------------
    def ev(self, node: ast.expr | None) -> V:
        if node is None:
            return V(const=None)
        if isinstance(node, ast.Constant):
            return V(const=node.value) if _safe_const(node.value) else UNKNOWN
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.JoinedStr):
            parts = [self.ev(v) for v in node.values]
            value = _concat(parts, "")
            self.a.record(node, value)
            return value
        if isinstance(node, ast.FormattedValue):
            inner = self.ev(node.value)
            if inner.is_const and node.format_spec is None and node.conversion == -1:
                try:
                    return V(const=format(inner.const))
                except Exception:
                    return inner.flat()
            return inner.flat()
        if isinstance(node, ast.BinOp):
            value = self._binop(node.op, self.ev(node.left), self.ev(node.right), node)
            return value
        if isinstance(node, ast.BoolOp):
            values = [self.ev(v) for v in node.values]
            if all(v.is_const for v in values):
                result = values[0].const
                for v in values[1:]:
                    result = (result and v.const) if isinstance(node.op, ast.And) else (result or v.const)
                return V(const=result) if _safe_const(result) else UNKNOWN
            return join(*values)
        if isinstance(node, ast.UnaryOp):
            operand = self.ev(node.operand)
            if operand.is_const:
                try:
                    ops: dict[type, Callable[[Any], Any]] = {
                        ast.Not: operator.not_,
                        ast.USub: operator.neg,
                        ast.UAdd: operator.pos,
                    }
                    op = ops.get(type(node.op))
                    if op is not None:
                        return V(const=op(operand.const))
                    return V(const=~operand.const)
                except Exception:
                    return UNKNOWN
            return operand.flat() if isinstance(node.op, ast.USub | ast.UAdd) and operand.kinds else UNKNOWN
        if isinstance(node, ast.Compare):
            values = [self.ev(node.left), *(self.ev(c) for c in node.comparators)]
            if all(v.is_const for v in values):
                try:
                    result = all(
                        _CMPOPS[type(op)](values[i].const, values[i + 1].const) for i, op in enumerate(node.ops)
                    )
                    return V(const=result)
                except Exception:
                    return UNKNOWN
            return UNKNOWN
        if isinstance(node, ast.IfExp):
            test = self.ev(node.test)
            if test.is_const:
                return self.ev(node.body if test.const else node.orelse)
            return join(self.ev(node.body), self.ev(node.orelse))
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = [self.ev(e.value if isinstance(e, ast.Starred) else e) for e in node.elts]
            constant_set = isinstance(node, ast.Set) and all(i.is_const and not i.kinds for i in items)
            if any(isinstance(e, ast.Starred) for e in node.elts) or (isinstance(node, ast.Set) and not constant_set):
                return join(*items).flat() if items else UNKNOWN
            value = _list_value(items)
            if isinstance(node, ast.Tuple) and all(i.is_const for i in items):
                value = replace(value, const=tuple(i.const for i in items))
            return value
        if isinstance(node, ast.Dict):
            keys = [self.ev(k) if k is not None else UNKNOWN for k in node.keys]
            values = [self.ev(v) for v in node.values]
            if all(k.is_const for k in keys) and None not in node.keys:
                try:
                    return _dict_value({k.const: v for k, v in zip(keys, values, strict=True)})
                except TypeError:
                    pass
            return join(*keys, *values).flat()
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            saved = dict(self.env)
            for gen in node.generators:
                source = self.ev(gen.iter)
                element = join(*source.items) if source.items else source.flat()
                self.assign(gen.target, element, ast.Pass(lineno=node.lineno))
            if isinstance(node, ast.DictComp):
                value = join(self.ev(node.key), self.ev(node.value)).flat()
            else:
                value = self.ev(node.elt).flat()
            self.env = saved
            return value
        if isinstance(node, ast.Await):
            return self.ev(node.value)
        if isinstance(node, ast.NamedExpr):
            value = self.ev(node.value)
            self.env[node.target.id] = value
            return value
        if isinstance(node, ast.Starred):
            return self.ev(node.value).flat()
        if isinstance(node, ast.Slice):
            return join(self.ev(node.lower), self.ev(node.upper), self.ev(node.step))
        return UNKNOWN

    def _name(self, node: ast.Name) -> V:
        if node.id in self.env:
            return self.env[node.id]
        if node.id in self.a.module_env:
            return self.a.module_env[node.id]
        if self.a.qualname(node) in _REQUEST_NAMES:
            return V(request=True)
        return UNKNOWN

    def _attribute(self, node: ast.Attribute) -> V:
        name = self.a.qualname(node)
        if name in {"sys.argv", "os.environ"}:
            return V(LOCAL, origin=node.lineno)
        if name in _REQUEST_NAMES:  # `import flask` … `flask.request.args`
            return V(request=True)
        base = self.ev(node.value)
        if base.request and node.attr in _REQUEST_SOURCES:
            return V(USER, origin=node.lineno)
        if base.kinds:
            return base.flat()
        return UNKNOWN

    def _subscript(self, node: ast.Subscript) -> V:
        base = self.ev(node.value)
        key = self.ev(node.slice)
        if key.is_const:
            index = key.const
            if base.items is not None and type(index) is int and -len(base.items) <= index < len(base.items):
                return base.items[index]
            if base.entries is not None:
                entries: dict[Any, V] = dict(base.entries)
                try:
                    if key.const in entries:
                        return entries[key.const]
                except TypeError:
                    pass
            if base.is_const and not base.kinds:
                try:
                    result = base.const[key.const]
                    return V(const=result) if _safe_const(result) else UNKNOWN
                except Exception:
                    return UNKNOWN
        if isinstance(node.slice, ast.Slice) and base.items is not None:
            lower, upper, step = (self.ev(node.slice.lower), self.ev(node.slice.upper), self.ev(node.slice.step))
            if all(v.is_const for v in (lower, upper, step)):
                with contextlib.suppress(Exception):
                    return _list_value(list(base.items[slice(lower.const, upper.const, step.const)]))
        if base.entries is not None and not key.is_const:  # one of the values (the key is not in the result)
            return join(*(v for _, v in base.entries)).flat() if base.entries else UNKNOWN
        if base.items is not None and not key.is_const and not isinstance(node.slice, ast.Slice):
            return join(*base.items).flat() if base.items else UNKNOWN
        value = join(base.flat(), key.flat())
        return value if base.kinds else V(proven=value.proven)

    def _binop(self, op: ast.operator, left: V, right: V, node: ast.AST) -> V:
        stringy = isinstance(left.const, str | bytes) or isinstance(right.const, str | bytes)
        if left.is_const and right.is_const and not (left.kinds or right.kinds):
            fn = _BINOPS.get(type(op))
            if fn is not None:
                if isinstance(op, ast.Mult) and (
                    isinstance(left.const, str | bytes | tuple) or isinstance(right.const, str | bytes | tuple)
                ):
                    count = right.const if isinstance(right.const, int) else left.const
                    if isinstance(count, int) and count > _MAX_CONST:
                        return UNKNOWN
                if isinstance(op, ast.LShift) and isinstance(right.const, int) and right.const > 64:
                    return UNKNOWN
                try:
                    result = fn(left.const, right.const)
                except Exception:
                    return UNKNOWN
                value = V(const=result) if _safe_const(result) else UNKNOWN
                if stringy:
                    self.a.record(node, value)
                return value
            small = isinstance(right.const, int) and abs(right.const) <= 64
            if isinstance(op, ast.Pow) and isinstance(left.const, int | float) and small:
                try:
                    return V(const=left.const**right.const)
                except Exception:
                    return UNKNOWN
            return UNKNOWN
        if isinstance(op, ast.Mod) and right.items is not None:
            right = join(*right.items) if right.items else UNKNOWN
        if left.items is not None and right.items is not None and isinstance(op, ast.Add):
            return _list_value([*left.items, *right.items])
        value = join(left.flat(), right.flat())
        if stringy or isinstance(op, ast.Mod):
            self.a.record(node, value)
        return value

    # -- calls -----------------------------------------------------------------------------------
    def _call(self, node: ast.Call) -> V:
        func = node.func
        name = self.a.qualname(func)
        base: V | None = None
        method = ""
        if isinstance(func, ast.Attribute):
            method = func.attr
            base = self.ev(func.value)
        args = [self.ev(a) for a in node.args]
        kwargs = {kw.arg: self.ev(kw.value) for kw in node.keywords if kw.arg}
        extra = [self.ev(kw.value) for kw in node.keywords if not kw.arg]
        self._sinks(node, name, method, base, args, kwargs)
        everything = [*args, *kwargs.values(), *extra]
        if name in _XSS_FUNCTIONS | _REDIRECTS | _RESPONSES and not name.endswith(("Markup", "mark_safe")):
            return UNKNOWN  # a response object: its body was checked at this call
        if name == "lxml.etree.XMLParser":
            resolve, network = kwargs.get("resolve_entities"), kwargs.get("no_network")
            network_off = network is None or (network.is_const and network.const)
            if resolve is not None and resolve.is_const and not resolve.const and network_off:
                return V(const=SAFE_PARSER)
            return UNKNOWN
        if name in {"lxml.etree.fromstring", "lxml.etree.parse", "lxml.etree.XML"}:
            parser = kwargs.get("parser", args[1] if len(args) > 1 else UNKNOWN)
            if parser.const is SAFE_PARSER:
                self.a.result.safe_xml_lines.add(node.lineno)

        # mutation of a local list/dict
        if base is not None and method in _MUTATORS and isinstance(func, ast.Attribute):
            return self._mutate(func.value, method, base, args, kwargs)
        # sources
        if name in {"input", "builtins.input", "raw_input", "os.getenv", "os.environ.get", "sys.stdin.readline"}:
            return V(LOCAL, origin=node.lineno)
        if base is not None and base.request and method in _REQUEST_METHODS | _REQUEST_SOURCES:
            return V(USER, origin=node.lineno)
        generator = (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self.generators
        )
        if generator or (name.startswith("random.") and not any(name.startswith(s) for s in _SAFE_RANDOM)):
            if name.endswith(("seed", "Random", "getstate", "setstate")):
                return UNKNOWN
            return V(frozenset({"random"}), origin=node.lineno)
        if name.startswith(("secrets.", "os.urandom", "random.SystemRandom")):
            return UNKNOWN
        # sanitisers and functions whose result carries no request data
        if name in _SANITISERS:
            joined = join(*everything)
            if name in {"flask.url_for", "django.urls.reverse"}:
                return V(proven=INJECTION)
            made_safe = _SANITISERS[name]
            return replace(joined.flat(), clean=joined.clean | made_safe, proven=joined.proven_for() | made_safe)
        if name in _KILL_USER:
            joined = join(*everything, *([base] if base else []))
            folded = self._fold_builtin(name, args)
            if folded is not None:
                return folded
            random = joined.kinds & {"random"}
            return V(random, origin=joined.origin if random else 0, proven=INJECTION)
        if name in {"str", "repr", "bytes", "format"} and len(args) == 1 and not kwargs:
            if args[0].is_const and not args[0].kinds:
                try:
                    convert: Callable[[Any], Any] = _CONVERTERS[name]
                    return V(const=convert(args[0].const))
                except Exception:
                    return UNKNOWN
            return args[0].flat()
        if name in {"list", "tuple", "set", "frozenset"} and len(args) == 1 and args[0].items is not None:
            return args[0]
        if name == "dict" and not args:
            try:
                return _dict_value(dict(kwargs))
            except TypeError:
                return join(*kwargs.values()).flat()
        # in-file helpers
        if isinstance(func, ast.Name) and func.id in self.a.functions and func.id not in self.env:
            summary = self.a.summary(func.id)
            if summary is not None:
                return self._apply(summary, node, args)
        # methods on values we know
        if base is not None:
            if method == "get" and base.entries is not None and args and args[0].is_const:
                entries: dict[Any, V] = dict(base.entries)
                try:
                    if args[0].const in entries:
                        return entries[args[0].const]
                except TypeError:
                    pass
                return args[1] if len(args) > 1 else V(const=None)
            if method == "get" and base.entries is not None and args and not base.kinds:
                return join(*(v for _, v in base.entries), args[1] if len(args) > 1 else V(const=None)).flat()
            constant_args = all(a.is_const and not a.kinds for a in everything)
            if base.is_const and not base.kinds and method in _STR_METHODS and constant_args:
                return self._fold_method(node, base, method, args, kwargs)
            if method in {"keys", "values", "items", "copy"} and (base.entries is not None or base.items is not None):
                values = [v for _, v in base.entries or ()] if base.entries is not None else list(base.items or ())
                return join(*values).flat() if values else UNKNOWN
        joined = join(*everything, *([base.flat()] if base is not None else []))
        if method == "format":
            self.a.record(node, joined)
        pure = name in _PURE or (base is not None and method in _STR_METHODS)
        return joined.flat() if pure else replace(joined.flat(), proven=frozenset())

    def _fold_method(self, node: ast.Call, base: V, method: str, args: list[V], kwargs: Mapping[str, V]) -> V:
        try:
            bound: Callable[..., Any] = getattr(base.const, method)
            result = bound(*(a.const for a in args), **{k: v.const for k, v in kwargs.items()})
        except Exception:
            return UNKNOWN
        if isinstance(result, list):
            return _list_value([V(const=x) for x in result[:_MAX_CONST]])
        value = V(const=result) if _safe_const(result) else UNKNOWN
        if method == "format":
            self.a.record(node, value)
        return value

    def _fold_builtin(self, name: str, args: list[V]) -> V | None:
        if name in {"int", "float", "bool", "len", "abs", "round", "ord"} and len(args) == 1:
            arg = args[0]
            if arg.is_const and not arg.kinds:
                try:
                    convert: Callable[[Any], Any] = _BUILTINS[name]
                    return V(const=convert(arg.const))
                except Exception:
                    return UNKNOWN
            if name == "len" and arg.items is not None:
                return V(const=len(arg.items))
        return None

    def _apply(self, summary: _Summary, node: ast.Call, args: list[V]) -> V:
        for index, category, line, end, sink in summary.sinks:
            if index < len(args) and _from_source(args[index], category):
                where = ast.Pass(lineno=line, end_lineno=end)
                self.a.hit(category, where, f"{sink} (via the call at line {node.lineno})", args[index])
        if self.summary is not None:  # a helper calling a helper: pass our parameters' paths on
            for index, category, line, end, sink in summary.sinks:
                if index < len(args):
                    for k in args[index].kinds:
                        if k[:1] == "p" and k[1:].isdigit() and category not in args[index].clean:
                            self.summary.sinks.append((int(k[1:]), category, line, end, sink))
        flowing = [args[i] for i in sorted(summary.returns) if i < len(args)]
        result = join(summary.ret, *flowing) if summary.ret.kinds else join(*flowing) if flowing else summary.ret
        if result.kinds:
            return replace(result.flat(), clean=result.clean | summary.ret.clean, proven=summary.ret.proven_for())
        return summary.ret if summary.ret.is_const else V(proven=summary.ret.proven_for())

    def _mutate(self, target: ast.expr, method: str, base: V, args: list[V], kwargs: Mapping[str, V]) -> V:
        name = target.id if isinstance(target, ast.Name) and target.id in self.env else None
        if base.items is not None and name is not None:
            items = list(base.items)
            if method == "append" and len(args) == 1:
                self.env[name] = _list_value([*items, args[0]])
                return V(const=None)
            if method == "extend" and len(args) == 1 and args[0].items is not None:
                self.env[name] = _list_value([*items, *args[0].items])
                return V(const=None)
            if method == "insert" and len(args) == 2 and args[0].is_const and isinstance(args[0].const, int):
                items.insert(args[0].const, args[1])
                self.env[name] = _list_value(items)
                return V(const=None)
            if method == "pop" and (not args or (args[0].is_const and isinstance(args[0].const, int))):
                index = args[0].const if args else -1
                if items and -len(items) <= index < len(items):
                    popped = items.pop(index)
                    self.env[name] = _list_value(items)
                    return popped
        if base.entries is not None and name is not None:
            entries: dict[Any, V] = dict(base.entries)
            if method in {"__setitem__", "setdefault"} and len(args) == 2 and args[0].is_const:
                try:
                    if method == "__setitem__" or args[0].const not in entries:
                        entries[args[0].const] = args[1]
                    self.env[name] = _dict_value(entries)
                    return entries[args[0].const]
                except TypeError:
                    pass
            if method == "update" and not args and kwargs:
                entries.update(kwargs)
                self.env[name] = _dict_value(entries)
                return V(const=None)
            if method == "pop" and args and args[0].is_const:
                try:
                    popped = entries.pop(args[0].const, args[1] if len(args) > 1 else UNKNOWN)
                    self.env[name] = _dict_value(entries)
                    return popped
                except TypeError:
                    pass
        incoming = join(*args, *kwargs.values())
        if method in {"pop", "remove", "clear"}:
            if (name is not None and base.items is not None) or (base.entries is not None and name is not None):
                self.env[name] = base.flat() if base.kinds else UNKNOWN
            return base.flat() if base.kinds else UNKNOWN
        root = _root_name(target)
        if root is not None and root in self.env:
            self.env[root] = join(self.env[root].flat(), incoming) if incoming.kinds or base.kinds else UNKNOWN
        if self._is_session(target) and method in {"update", "setdefault", "__setitem__"}:
            self.sink("trustbound", target, incoming, "the session")
            self.sink("weakrand", target, incoming, "the session")
        return V(const=None)

    def _sinks(
        self, node: ast.Call, name: str, method: str, base: V | None, args: list[V], kwargs: Mapping[str, V]
    ) -> None:
        first = args[0] if args else UNKNOWN
        if name in _CMD_STRING:
            self.a.record(node, first)
            self.sink("cmdi", node, first, name)
        elif name in _SUBPROCESS:
            command = kwargs.get("args", first)
            shell = kwargs.get("shell")
            self.a.record(node, command if shell is not None else V(const=""))
            if shell is not None and not (shell.is_const and not shell.const):
                self.sink("cmdi", node, join(*command.items) if command.items else command, f"{name}(shell=True)")
            elif command.items:
                head = command.items[0]
                if (
                    len(command.items) >= 3
                    and head.is_const
                    and str(head.const) in _SHELLS
                    and str(command.items[1].const) in {"-c", "/c", "-Command"}
                ):
                    script = join(*command.items[2:])
                    self.a.record(node, script)
                    if "cmdi" not in script.proven_for() and not _from_source(script, "cmdi"):
                        # what bandit says of shell=True with a non-literal command (B602), for the list form
                        self.a.hit(
                            "cmdi", node, f"{name} through {head.const} -c with a command built at run time", None
                        )
                    self.sink("cmdi", node, script, f"{name} through {head.const} -c")
                else:
                    self.sink("cmdi", node, head, f"{name} (program name)")
            elif command.kinds:
                self.sink("cmdi", node, command, name)
        elif name in _CODE:
            self.a.record(node, first)
            self.sink("codei", node, first, name)
        elif name in _SQL_FUNCTIONS or (method in _SQL_METHODS and base is not None and not name.startswith("os.")):
            query = kwargs.get("sql", kwargs.get("query", kwargs.get("where", first)))
            if method == "extra" and "where" in kwargs:
                query = kwargs["where"]
                query = join(*query.items) if query.items else query
            self.a.record(node, query)
            self.sink("sqli", node, query, name or method)
        elif name in _PATH_FUNCTIONS or (base is not None and method in _PATH_METHODS and base.kinds):
            target = first if name in _PATH_FUNCTIONS else base or UNKNOWN
            if name == "open" and "file" in kwargs:
                target = kwargs["file"]
            self.sink("pathtraver", node, target, name or method)
            if name in {"os.rename", "os.replace", "shutil.copy", "shutil.copyfile", "shutil.move"} and len(args) > 1:
                self.sink("pathtraver", node, args[1], name)
        elif name in _XSS_FUNCTIONS:
            kind = kwargs.get("mimetype", kwargs.get("content_type", kwargs.get("media_type")))
            if kind is not None and kind.is_const and "html" not in str(kind.const):
                return
            body = kwargs.get("response", kwargs.get("content", first))
            self.sink("xss", node, body, name)
            if name.endswith(("Markup", "mark_safe")):
                self.a.record(node, body)
        elif name in _REDIRECTS:
            self.sink("redirect", node, kwargs.get("location", kwargs.get("url", first)), name)
        elif name in _XPATH_FUNCTIONS or (method in {"xpath", "evaluate"} and base is not None):
            expr = kwargs.get("_path", kwargs.get("path", first))
            self.sink("xpathi", node, expr, name or method)
        elif method in _LDAP_METHODS and not name.startswith(("re.", "regex.")) and base is not None:
            position = _LDAP_METHODS[method]
            filt = kwargs.get(
                "filterstr", kwargs.get("search_filter", args[position] if len(args) > position else None)
            )
            if filt is not None or "search_base" in kwargs or (args and method != "search"):  # re's .search(text)
                self.sink("ldapi", node, join(filt or UNKNOWN, kwargs.get("search_base", first)), method)
        elif name in _DESERIALISE or name in {"yaml.load", "yaml.load_all"}:
            if name in {"yaml.load", "yaml.load_all"}:
                loader = kwargs.get("Loader")
                loader_node = next((kw.value for kw in node.keywords if kw.arg == "Loader"), None)
                if loader_node is None and len(node.args) > 1:
                    loader_node = node.args[1]
                if loader_node is not None and self.a.qualname(loader_node).rsplit(".", 1)[-1] in _SAFE_YAML_LOADERS:
                    return
                del loader
            self.a.record(node, first)
            if not (first.is_const and not first.kinds):
                self.a.hit("deserialization", node, name, None)
        elif name in {"lxml.etree.XMLParser", "xml.etree.ElementTree.XMLParser"}:
            resolve = kwargs.get("resolve_entities")
            network = kwargs.get("no_network")
            if (resolve is not None and not (resolve.is_const and not resolve.const)) or (
                network is not None and network.is_const and not network.const
            ):
                self.a.hit("xxe", node, name, None)
        elif method == "setFeature" and len(node.args) == 2:
            feature = self.a.qualname(node.args[0]).rsplit(".", 1)[-1] if not args[0].is_const else str(args[0].const)
            if feature in _EXTERNAL_FEATURES and not (args[1].is_const and not args[1].const):
                self.a.result.external_entities = True
                self.a.hit("xxe", node, f"setFeature({feature}, True)", None)
        elif name in _WEAK_HASH_CALLS or name == "hashlib.new":
            used = kwargs.get("usedforsecurity")
            if used is not None and used.is_const and not used.const:
                return
            if name == "hashlib.new":
                algo = kwargs.get("name", first)
                if not (algo.is_const and str(algo.const).lower().replace("-", "") in _WEAK_HASHES):
                    return
            self.a.hit("hash", node, name, None)
        # a cookie jar's set_cookie(cookie) (http.cookiejar, requests' jar) stores one Cookie object for a client;
        # a response's set_cookie(name, value, ...) is what a browser gets
        jar = len(args) == 1 and not kwargs and not (first.is_const and isinstance(first.const, str))
        if method == "set_cookie" and base is not None and not jar:
            secure, httponly = kwargs.get("secure"), kwargs.get("httponly")
            if not (secure and secure.is_const and secure.const) or not (
                httponly and httponly.is_const and httponly.const
            ):
                self.a.hit("securecookie", node, "set_cookie", None)
            value = kwargs.get("value", args[1] if len(args) > 1 else UNKNOWN)
            self.sink("weakrand", node, join(value, first), "a cookie value")


def _statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones too, without walking into expressions."""
    for stmt in body:
        yield stmt
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list):
                yield from _statements(inner)
        for handler in getattr(stmt, "handlers", ()):
            yield from _statements(handler.body)
        for case in getattr(stmt, "cases", ()):
            yield from _statements(case.body)


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _list_value(items: Iterable[V]) -> V:
    items = tuple(items)
    joined = join(*items) if items else V(const=())
    return V(joined.kinds, joined.clean, items=items, origin=joined.origin, proven=joined.proven_for())


def _dict_value(entries: Mapping[Any, V]) -> V:
    values = list(entries.values())
    joined = join(*values) if values else V(const=())
    return V(joined.kinds, joined.clean, entries=tuple(entries.items()), origin=joined.origin,
             proven=joined.proven_for())  # fmt: skip


def _concat(parts: Sequence[V], sep: str) -> V:
    if all(p.is_const and not p.kinds for p in parts):
        try:
            return V(const=sep.join(str(p.const) for p in parts))
        except Exception:
            return UNKNOWN
    return join(*(p.flat() for p in parts))


def analyze_tree(tree: ast.Module) -> TaintResult:
    """Every data flow from a source to a sink in one parsed module (and which sink lines are constant)."""
    return _Analysis(tree).run()


def analyze_source(text: str) -> TaintResult | None:
    """`analyze_tree` on source text; None when the running Python cannot parse it."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):  # RecursionError: nested too deep for the parser
        return None
    try:
        return analyze_tree(tree)
    except RecursionError:
        return TaintResult()
