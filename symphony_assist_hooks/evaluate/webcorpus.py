"""A labelled corpus of small web handlers, 14 security categories, vulnerable and safe variants of each.

Every case is one Python file built from parts: a *source* (Flask `request.args`/form/cookies/headers/JSON/path
parameters, Django `request.GET`/`POST`/`META`, a FastAPI query parameter, `sys.argv`, the environment,
`input()`), a *propagation* (direct, f-string, concatenation, `%`, `format`, augmented assignment, through a
dict or a list, an in-file helper, a branch, a loop, a base64 round trip) and a *sink* of the category. Safe
variants are the same code with the value made constant on the way (a constant dict key, a constant list
index after a pop, a branch whose condition is constant, an overwrite, a `match` on a constant), sanitised
(shlex.quote, int(), escape, basename, a containment check, escape_filter_chars, a netloc check…), or a safe
API use (parameters, an argument list, `render_template`, `send_from_directory`, `yaml.safe_load`,
`resolve_entities=False`, `secrets`…). The parts cycle independently, so no sink is paired with one source
shape only. The corpus is deterministic: the same cases, in the same order, every run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

__all__ = ["CATEGORY_NAMES", "WebCase", "build"]

CATEGORY_NAMES = {
    "cmdi": "command injection",
    "sqli": "SQL injection",
    "codei": "code injection",
    "pathtraver": "path traversal",
    "xss": "XSS",
    "xpathi": "XPath injection",
    "ldapi": "LDAP injection",
    "redirect": "open redirect",
    "securecookie": "insecure cookie",
    "trustbound": "trust boundary",
    "deserialization": "unsafe deserialisation",
    "xxe": "XXE",
    "hash": "weak hash",
    "weakrand": "weak randomness",
}


@dataclass(frozen=True)
class WebCase:
    id: str
    category: str
    vulnerable: bool
    text: str


@dataclass(frozen=True)
class Source:
    kind: str
    framework: str  # flask | django | fastapi | script
    imports: tuple[str, ...]
    header: str  # decorator + def line; {fn} is the function name
    expr: str  # the untrusted value

    @property
    def web(self) -> bool:
        return self.framework != "script"

    def done(self) -> str:
        return {
            "flask": 'return "ok"',
            "django": 'return HttpResponse("ok")',
            "fastapi": 'return {"ok": True}',
            "script": "return 0",
        }[self.framework]


_FLASK = ("from flask import Flask, request", "app = Flask(__name__)")
_DJANGO = ("from django.http import HttpResponse",)
_FASTAPI = ("from fastapi import FastAPI", "app = FastAPI()")
SOURCES = (
    Source("flask-args", "flask", _FLASK, '@app.route("/{fn}")\ndef {fn}():', 'request.args.get("q", "")'),
    Source("django-get", "django", _DJANGO, "def {fn}(request):", 'request.GET.get("name", "")'),
    Source("flask-form", "flask", _FLASK, '@app.route("/{fn}", methods=["POST"])\ndef {fn}():', 'request.form["v"]'),
    Source("fastapi-query", "fastapi", _FASTAPI, '@app.get("/{fn}")\nasync def {fn}(term: str):', "term"),
    Source("flask-cookie", "flask", _FLASK, '@app.route("/{fn}")\ndef {fn}():', 'request.cookies.get("pref", "")'),
    Source("script-argv", "script", ("import sys",), "def {fn}():", "sys.argv[1]"),
    Source("flask-path", "flask", _FLASK, '@app.route("/{fn}/<item>")\ndef {fn}(item):', "item"),
    Source("django-post", "django", _DJANGO, "def {fn}(request):", 'request.POST["field"]'),
    Source("flask-header", "flask", _FLASK, '@app.route("/{fn}")\ndef {fn}():', 'request.headers.get("X-Item", "")'),
    Source("script-env", "script", ("import os",), "def {fn}():", 'os.environ.get("TARGET", "")'),
    Source(
        "flask-json",
        "flask",
        _FLASK,
        '@app.route("/{fn}", methods=["POST"])\ndef {fn}():',
        'request.get_json()["value"]',
    ),
    Source("django-meta", "django", _DJANGO, "def {fn}(request):", 'request.META.get("HTTP_X_DATA", "")'),
    Source("script-input", "script", (), "def {fn}():", 'input("value: ")'),
    Source("flask-values", "flask", _FLASK, '@app.route("/{fn}")\ndef {fn}():', 'request.values.get("v", "")'),
)


@dataclass(frozen=True)
class Flow:
    """How `bar` is derived from `param`: the lines, module-level helper code, imports."""

    kind: str
    lines: tuple[str, ...]
    module: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()


TAINTED = (
    Flow("direct", ("bar = param",)),
    Flow("fstring", ('bar = f"{param}"',)),
    Flow("concat", ('bar = "" + param + ""',)),
    Flow("percent", ('bar = "%s" % param',)),
    Flow("format", ('bar = "{}".format(param)',)),
    Flow("augassign", ('bar = ""', "bar += param")),
    Flow("dict", ('lookup = {"keyA": "a_value", "keyB": param}', 'bar = lookup["keyB"]')),
    Flow("list-pop", ('values = ["safe", param, "moresafe"]', "values.pop(0)", "bar = values[0]")),
    Flow("helper", ("bar = tidy(param)",), ("def tidy(value):", "    return value.strip()")),
    Flow("branch", ("num = 106", "if (7 * 42) - num > 200:", '    bar = "constant"', "else:", "    bar = param")),
    Flow("base64", ("bar = base64.b64decode(base64.b64encode(param.encode())).decode()",), (), ("import base64",)),
    Flow("loop", ("parts = []", 'for piece in param.split(","):', "    parts.append(piece)", 'bar = ",".join(parts)')),
    Flow("dict-get", ("box = {}", 'box["k"] = param', 'bar = box.get("k")')),
    Flow("ternary", ('bar = param if param else "none"',)),
)
CONSTANT = (
    Flow("dict-const-key", ('lookup = {"keyA": "a_value", "keyB": param}', 'bar = lookup["keyA"]')),
    Flow("list-const-index", ('values = ["safe", param, "moresafe"]', "values.pop(0)", "bar = values[1]")),
    Flow("const-branch", ("num = 106", 'bar = "always_this" if (7 * 18) + num > 200 else param')),
    Flow("overwrite", ("bar = param", 'bar = "fixed_value"')),
    Flow(
        "match-const",
        (
            'guess = "ABC"',
            "match guess[1]:",
            '    case "A":',
            "        bar = param",
            '    case "B":',
            '        bar = "bob"',
            "    case _:",
            "        bar = param",
        ),
    ),
)

# Shapes at the edge of what a single-file analysis can know, kept in the corpus so the score shows them:
# a regular-expression allow-list (provable), a sanitiser imported from another module (not provable here:
# the data-flow analysis must assume the value is still tainted), and data that travels through a module-level
# dict written by another function (not modelled: missed).
HARD_SAFE = (
    Flow(
        "regex-allowlist",
        ('if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", param):', "    raise ValueError(param)", "bar = param"),
        (),
        ("import re",),
    ),
    Flow("imported-sanitiser", ("bar = clean_value(param)",), (), ("from app.validators import clean_value",)),
)
HARD_VULN = (
    Flow(
        "global-state",
        ("remember(param)", 'bar = STATE["last"]'),
        ("STATE = {}", "", "", "def remember(value):", '    STATE["last"] = value'),
    ),
)


@dataclass(frozen=True)
class Sink:
    """The lines that use `bar`; `ret` replaces the handler's final return (XSS, redirects)."""

    lines: tuple[str, ...]
    imports: tuple[str, ...] = ()
    module: tuple[str, ...] = ()
    ret: str = ""
    frameworks: tuple[str, ...] = ()  # empty: any

    def fits(self, source: Source) -> bool:
        return not self.frameworks or source.framework in self.frameworks


def _s(*lines: str, imports: Sequence[str] = (), module: Sequence[str] = (), ret: str = "", fw: str = "") -> Sink:
    return Sink(tuple(lines), tuple(imports), tuple(module), ret, tuple(fw.split()) if fw else ())


_SQL = ("import sqlite3",)
_DB = ('conn = sqlite3.connect("app.db")', "cursor = conn.cursor()")
_LXML = ("from lxml import etree",)
_DOC = ('DOC = b"<users><user name=\\"ann\\"><id>1</id></user></users>"',)
_LDAP = ("import ldap",)
_LDAP3 = ("import ldap3",)
_LCONN = ('conn = ldap.initialize("ldap://localhost")',)
_L3CONN = ('conn = ldap3.Connection(ldap3.Server("localhost"), auto_bind=True)',)
_RESP = {
    "flask": ("from flask import make_response",),
    "django": ("from django.http import HttpResponse",),
    "fastapi": ("from fastapi.responses import JSONResponse",),
}


@dataclass(frozen=True)
class Category:
    name: str
    vulnerable: tuple[Sink, ...]
    sanitised: tuple[Sink, ...]  # sinks that are safe because of a sanitiser on the way
    safe_api: tuple[Sink, ...]
    web_only: bool = False
    taint: bool = True  # False: the vulnerability is the API use, whatever the data


CATEGORIES: tuple[Category, ...] = (
    Category(
        "cmdi",
        (
            _s('os.system("echo " + bar)', imports=("import os",)),
            _s('subprocess.run(f"grep {bar} /var/log/app.log", shell=True)', imports=("import subprocess",)),
            _s('subprocess.run(["sh", "-c", f"echo {bar}"])', imports=("import subprocess",)),
            _s('out = os.popen("ls " + bar).read()', imports=("import os",)),
            _s('proc = subprocess.Popen("cat " + bar, shell=True)', imports=("import subprocess",)),
            _s('subprocess.check_output(["bash", "-c", "wc -l " + bar])', imports=("import subprocess",)),
        ),
        (
            _s("safe = shlex.quote(bar)", 'os.system("echo " + safe)', imports=("import os", "import shlex")),
            _s('subprocess.run(f"kill {int(bar)}", shell=True)', imports=("import subprocess",)),
            _s('subprocess.run("ls " + shlex.quote(bar), shell=True)', imports=("import shlex", "import subprocess")),
        ),
        (
            _s('subprocess.run(["echo", bar], check=False)', imports=("import subprocess",)),
            _s('subprocess.run(["grep", "--", bar, "/var/log/app.log"])', imports=("import subprocess",)),
        ),
    ),
    Category(
        "sqli",
        (
            _s(*_DB, "cursor.execute(f\"SELECT * FROM users WHERE name = '{bar}'\")", imports=_SQL),
            _s(*_DB, "cursor.execute(\"SELECT * FROM users WHERE name = '%s'\" % bar)", imports=_SQL),
            _s(*_DB, 'conn.execute("DELETE FROM items WHERE id = " + bar)', imports=_SQL),
            _s(*_DB, "sql = \"SELECT id FROM t WHERE v = '{}'\".format(bar)", "cursor.execute(sql)", imports=_SQL),
            _s(*_DB, 'cursor.executescript("UPDATE t SET v = \'" + bar + "\'")', imports=_SQL),
            _s(
                'engine = create_engine("sqlite://")',
                "with engine.connect() as db:",
                "    db.execute(text(f\"SELECT * FROM users WHERE email = '{bar}'\"))",
                imports=("from sqlalchemy import create_engine, text",),
            ),
        ),
        (
            _s(*_DB, 'cursor.execute("SELECT * FROM users WHERE id = " + str(int(bar)))', imports=_SQL),
            _s(*_DB, 'cursor.execute(f"SELECT * FROM users WHERE score > {float(bar)}")', imports=_SQL),
        ),
        (
            _s(*_DB, 'cursor.execute("SELECT * FROM users WHERE name = ?", (bar,))', imports=_SQL),
            _s(*_DB, 'sql = f"SELECT * FROM users WHERE name = ?"', "cursor.execute(sql, (bar,))", imports=_SQL),
            _s(*_DB, 'cursor.executemany("INSERT INTO t (v) VALUES (?)", [(bar,)])', imports=_SQL),
            _s(
                'engine = create_engine("sqlite://")',
                "with engine.connect() as db:",
                '    db.execute(text("SELECT * FROM users WHERE email = :email"), {"email": bar})',
                imports=("from sqlalchemy import create_engine, text",),
            ),
        ),
    ),
    Category(
        "codei",
        (
            _s("result = eval(bar)"),
            _s('exec("result = " + bar)'),
            _s('value = eval(f"{bar} + 1")'),
            _s('code = compile(bar, "<input>", "exec")', "exec(code)"),
        ),
        (_s("value = eval(str(int(bar)) + ' * 2')"),),
        (
            _s("value = ast.literal_eval(bar)", imports=("import ast",)),
            _s("value = json.loads(bar)", imports=("import json",)),
            _s('value = eval("6 * 7")'),
        ),
    ),
    Category(
        "pathtraver",
        (
            _s('with open(os.path.join("/srv/files", bar)) as fh:', "    data = fh.read()", imports=("import os",)),
            _s('data = open("/srv/files/" + bar).read()'),
            _s('text = pathlib.Path("/srv/files", bar).read_text()', imports=("import pathlib",)),
            _s('os.remove(os.path.join("/srv/uploads", bar))', imports=("import os",)),
            _s('shutil.copy(bar, "/tmp/export")', imports=("import shutil",)),
            _s('return send_file(f"/srv/files/{bar}")', imports=("from flask import send_file",), fw="flask"),
        ),
        (
            _s(
                "name = os.path.basename(bar)",
                'data = open(os.path.join("/srv/files", name)).read()',
                imports=("import os",),
            ),
            _s(
                'data = open("/srv/files/" + secure_filename(bar)).read()',
                imports=("from werkzeug.utils import secure_filename",),
            ),
            _s(
                'base = os.path.realpath("/srv/files")',
                "path = os.path.realpath(os.path.join(base, bar))",
                "if not path.startswith(base + os.sep):",
                '    raise PermissionError("outside the files folder")',
                "data = open(path).read()",
                imports=("import os",),
            ),
        ),
        (
            _s(
                'return send_from_directory("/srv/files", bar)',
                imports=("from flask import send_from_directory",),
                fw="flask",
            ),
            _s('data = open("/srv/files/index.txt").read()'),
        ),
        web_only=True,  # a path from the command line or the environment is the user's own choice
    ),
    Category(
        "xss",
        (
            _s(ret='return f"<p>Hello {bar}</p>"', fw="flask"),
            _s(
                ret='return make_response("<h1>" + bar + "</h1>")',
                imports=("from flask import make_response",),
                fw="flask",
            ),
            _s(ret='return Markup(f"<b>{bar}</b>")', imports=("from markupsafe import Markup",), fw="flask"),
            _s(ret='return HttpResponse(f"<p>{bar}</p>")', fw="django"),
            _s(
                ret='return HTMLResponse(content=f"<p>{bar}</p>")',
                imports=("from fastapi.responses import HTMLResponse",),
                fw="fastapi",
            ),
            _s(
                ret='return render_template_string("<p>" + bar + "</p>")',
                imports=("from flask import render_template_string",),
                fw="flask",
            ),
        ),
        (
            _s(ret='return f"<p>Hello {escape(bar)}</p>"', imports=("from markupsafe import escape",), fw="flask"),
            _s(ret='return HttpResponse("<p>" + html.escape(bar) + "</p>")', imports=("import html",), fw="django"),
            _s(
                ret='return HTMLResponse(content=f"<p>{html.escape(bar)}</p>")',
                imports=("import html", "from fastapi.responses import HTMLResponse"),
                fw="fastapi",
            ),
        ),
        (
            _s(
                ret='return render_template("page.html", value=bar)',
                imports=("from flask import render_template",),
                fw="flask",
            ),
            _s(ret="return jsonify(value=bar)", imports=("from flask import jsonify",), fw="flask"),
            _s(ret='return {"value": bar}', fw="fastapi"),
            _s(ret='return HttpResponse(bar, content_type="text/plain")', fw="django"),
        ),
        web_only=True,
    ),
    Category(
        "xpathi",
        (
            _s(
                "root = etree.fromstring(DOC)",
                "hits = root.xpath(f\"//user[@name='{bar}']\")",
                imports=_LXML,
                module=_DOC,
            ),
            _s(
                "tree = etree.fromstring(DOC)",
                'ids = tree.xpath("//user[@name=\'" + bar + "\']/id/text()")',
                imports=_LXML,
                module=_DOC,
            ),
            _s(
                "find = etree.XPath(\"//user[@name='%s']\" % bar)",
                "hits = find(etree.fromstring(DOC))",
                imports=_LXML,
                module=_DOC,
            ),
        ),
        (),
        (
            _s(
                "root = etree.fromstring(DOC)",
                'hits = root.xpath("//user[@name=$name]", name=bar)',
                imports=_LXML,
                module=_DOC,
            ),
            _s(
                'find = etree.XPath("//user[@name=$n]")',
                "hits = find(etree.fromstring(DOC), n=bar)",
                imports=_LXML,
                module=_DOC,
            ),
            _s(
                "root = etree.fromstring(DOC)",
                'hits = root.xpath("//user/id/text()")',
                "ok = bar in hits",
                imports=_LXML,
                module=_DOC,
            ),
        ),
    ),
    Category(
        "ldapi",
        (
            _s(*_LCONN, 'res = conn.search_s("dc=example,dc=org", ldap.SCOPE_SUBTREE, f"(uid={bar})")', imports=_LDAP),
            _s(*_L3CONN, 'conn.search("dc=example,dc=org", "(&(objectClass=person)(cn=" + bar + "))")', imports=_LDAP3),
            _s(
                *_LCONN,
                'filt = "(mail=%s)" % bar',
                'res = conn.search_s("dc=example,dc=org", ldap.SCOPE_SUBTREE, filt)',
                imports=_LDAP,
            ),
        ),
        (
            _s(
                *_LCONN,
                'res = conn.search_s("dc=example,dc=org", ldap.SCOPE_SUBTREE, f"(uid={escape_filter_chars(bar)})")',
                imports=(*_LDAP, "from ldap.filter import escape_filter_chars"),
            ),
            _s(
                *_L3CONN,
                'conn.search("dc=example,dc=org", "(cn=" + escape_filter_chars(bar) + ")")',
                imports=(*_LDAP3, "from ldap3.utils.conv import escape_filter_chars"),
            ),
            _s(
                *_LCONN,
                'filt = filter_format("(mail=%s)", [bar])',
                'res = conn.search_s("dc=example,dc=org", ldap.SCOPE_SUBTREE, filt)',
                imports=(*_LDAP, "from ldap.filter import filter_format"),
            ),
        ),
        (
            _s(
                *_LCONN,
                'res = conn.search_s("dc=example,dc=org", ldap.SCOPE_SUBTREE, "(objectClass=person)")',
                "found = [r for r in res if bar in str(r)]",
                imports=_LDAP,
            ),
        ),
    ),
    Category(
        "redirect",
        (
            _s(ret="return redirect(bar)", imports=("from flask import redirect",), fw="flask"),
            _s(ret='return redirect(f"{bar}/welcome")', imports=("from flask import redirect",), fw="flask"),
            _s(
                ret="return HttpResponseRedirect(bar)",
                imports=("from django.http import HttpResponseRedirect",),
                fw="django",
            ),
            _s(
                ret="return RedirectResponse(bar)",
                imports=("from fastapi.responses import RedirectResponse",),
                fw="fastapi",
            ),
        ),
        (
            _s(
                'if urlparse(bar).netloc not in ("", "example.com"):',
                '    bar = "/"',
                ret="return redirect(bar)",
                imports=("from flask import redirect", "from urllib.parse import urlparse"),
                fw="flask",
            ),
            _s(
                ret='return redirect(url_for("profile", name=bar))',
                imports=("from flask import redirect, url_for",),
                fw="flask",
            ),
            _s(
                'if bar not in ("/home", "/profile"):',
                '    bar = "/"',
                ret="return HttpResponseRedirect(bar)",
                imports=("from django.http import HttpResponseRedirect",),
                fw="django",
            ),
        ),
        (
            _s("seen = bool(bar)", ret='return redirect("/home")', imports=("from flask import redirect",), fw="flask"),
            _s(
                "seen = bool(bar)",
                ret='return RedirectResponse("/home")',
                imports=("from fastapi.responses import RedirectResponse",),
                fw="fastapi",
            ),
        ),
        web_only=True,
    ),
    Category(
        "securecookie",
        (
            _s(
                'resp = make_response("ok")',
                'resp.set_cookie("pref", bar)',
                ret="return resp",
                fw="flask",
                imports=_RESP["flask"],
            ),
            _s(
                'resp = make_response("ok")',
                'resp.set_cookie("pref", bar, secure=False, httponly=True)',
                ret="return resp",
                fw="flask",
                imports=_RESP["flask"],
            ),
            _s(
                'response = HttpResponse("ok")',
                'response.set_cookie("pref", bar, httponly=True)',
                ret="return response",
                fw="django",
            ),
            _s(
                'response = JSONResponse({"ok": True})',
                'response.set_cookie("pref", bar, secure=True)',
                ret="return response",
                fw="fastapi",
                imports=_RESP["fastapi"],
            ),
        ),
        (),
        (
            _s(
                'resp = make_response("ok")',
                'resp.set_cookie("pref", bar, secure=True, httponly=True)',
                ret="return resp",
                fw="flask",
                imports=_RESP["flask"],
            ),
            _s(
                'response = HttpResponse("ok")',
                'response.set_cookie("pref", bar, secure=True, httponly=True, samesite="Lax")',
                ret="return response",
                fw="django",
            ),
            _s(
                'response = JSONResponse({"ok": True})',
                "strict = 3 > 1",
                'response.set_cookie("pref", bar, secure=strict, httponly=strict)',
                ret="return response",
                fw="fastapi",
                imports=_RESP["fastapi"],
            ),
        ),
        web_only=True,
        taint=False,
    ),
    Category(
        "trustbound",
        (
            _s('session["user"] = bar', imports=("from flask import session",), fw="flask"),
            _s('session[bar] = "10340"', imports=("from flask import session",), fw="flask"),
            _s('session.update({"pref": bar})', imports=("from flask import session",), fw="flask"),
            _s('request.session["last_search"] = bar', fw="django"),
        ),
        (
            _s('session["count"] = int(bar)', imports=("from flask import session",), fw="flask"),
            _s('if bar in ("en", "fr", "de"):', '    request.session["lang"] = bar', fw="django"),
        ),
        (
            _s('session["seen"] = True', "seen = bool(bar)", imports=("from flask import session",), fw="flask"),
            _s('request.session["visited"] = "yes"', "size = len(bar)", fw="django"),
        ),
        web_only=True,
    ),
    Category(
        "deserialization",
        (
            _s("obj = pickle.loads(base64.b64decode(bar))", imports=("import base64", "import pickle")),
            _s("obj = yaml.load(bar, Loader=yaml.Loader)", imports=("import yaml",)),
            _s("obj = marshal.loads(bytes.fromhex(bar))", imports=("import marshal",)),
            _s("obj = jsonpickle.decode(bar)", imports=("import jsonpickle",)),
            _s("obj = yaml.unsafe_load(bar)", imports=("import yaml",)),
            _s('with open(bar, "rb") as fh:', "    obj = pickle.load(fh)", imports=("import pickle",)),
        ),
        (),
        (
            _s("obj = json.loads(bar)", imports=("import json",)),
            _s("obj = yaml.safe_load(bar)", imports=("import yaml",)),
            _s("obj = yaml.load(bar, Loader=yaml.SafeLoader)", imports=("import yaml",)),
            _s(
                "blob = pickle.dumps([1, 2])",
                'obj = pickle.loads(b"\\x80\\x04K\\x01.")',
                "n = len(bar)",
                imports=("import pickle",),
            ),
        ),
        taint=False,
    ),
    Category(
        "xxe",
        (
            _s(
                "parser = etree.XMLParser(resolve_entities=True)",
                "doc = etree.fromstring(bar.encode(), parser)",
                imports=_LXML,
            ),
            _s(
                "parser = xml.sax.make_parser()",
                "parser.setFeature(feature_external_ges, True)",
                "parser.parse(io.StringIO(bar))",
                imports=("import io", "import xml.sax", "from xml.sax.handler import feature_external_ges"),
            ),
            _s(
                "parser = xml.sax.make_parser()",
                "parser.setFeature(xml.sax.handler.feature_external_ges, True)",
                "events = pulldom.parseString(bar, parser=parser)",
                imports=("import xml.sax", "import xml.sax.handler", "from xml.dom import pulldom"),
            ),
            _s(
                "parser = etree.XMLParser(no_network=False, resolve_entities=True)",
                "tree = etree.parse(io.BytesIO(bar.encode()), parser)",
                imports=(*_LXML, "import io"),
            ),
        ),
        (),
        (
            _s(
                "parser = etree.XMLParser(resolve_entities=False)",
                "doc = etree.fromstring(bar.encode(), parser)",
                imports=_LXML,
            ),
            _s(
                "parser = xml.sax.make_parser()",
                "parser.parse(io.StringIO(bar))",
                imports=("import io", "import xml.sax"),
            ),
            _s(
                "parser = xml.sax.make_parser()",
                "parser.setFeature(feature_external_ges, False)",
                "parser.parse(io.StringIO(bar))",
                imports=("import io", "import xml.sax", "from xml.sax.handler import feature_external_ges"),
            ),
            _s("doc = defusedxml.ElementTree.fromstring(bar)", imports=("import defusedxml.ElementTree",)),
            _s("events = pulldom.parseString(bar)", imports=("from xml.dom import pulldom",)),
        ),
        taint=False,
    ),
    Category(
        "hash",
        (
            _s("digest = hashlib.md5(bar.encode()).hexdigest()", imports=("import hashlib",)),
            _s("digest = hashlib.sha1(bar.encode()).hexdigest()", imports=("import hashlib",)),
            _s('digest = hashlib.new("md5", bar.encode()).hexdigest()', imports=("import hashlib",)),
            _s(
                'algo = ["sha256", "md5"][1]',
                "digest = hashlib.new(algo, bar.encode()).hexdigest()",
                imports=("import hashlib",),
            ),
            _s(
                "digest = hashlib.new(ALGORITHM, bar.encode()).hexdigest()",
                imports=("import hashlib",),
                module=('ALGORITHM = "sha1"',),
            ),
        ),
        (),
        (
            _s("digest = hashlib.sha256(bar.encode()).hexdigest()", imports=("import hashlib",)),
            _s('digest = hashlib.new("sha256", bar.encode()).hexdigest()', imports=("import hashlib",)),
            _s("etag = hashlib.md5(bar.encode(), usedforsecurity=False).hexdigest()", imports=("import hashlib",)),
            _s(
                'algo = ["md5", "sha256"][1]',
                "digest = hashlib.new(algo, bar.encode()).hexdigest()",
                imports=("import hashlib",),
            ),
            _s('key = hashlib.pbkdf2_hmac("sha256", bar.encode(), b"salt-1234", 600000)', imports=("import hashlib",)),
        ),
        taint=False,
    ),
)

# Weak randomness: the secret comes from a generator, not from the request; the request only shapes the code.
_RANDOM_VULN = (
    _s(
        "value = random.random()",
        'session["token"] = str(value)[2:]',
        imports=("import random", "from flask import session"),
        fw="flask",
    ),
    _s(
        'token = "".join(random.choice(ALPHABET) for _ in range(16))',
        'resp = make_response("ok")',
        'resp.set_cookie("remember", token, secure=True, httponly=True)',
        ret="return resp",
        imports=("import random", "import string", "from flask import make_response"),
        module=("ALPHABET = string.ascii_letters + string.digits",),
        fw="flask",
    ),
    _s(
        "code = random.randint(100000, 999999)",
        'request.session["reset_code"] = code',
        imports=("import random",),
        fw="django",
    ),
    _s(
        'response = HttpResponse("ok")',
        'response.set_cookie("sid", hex(random.getrandbits(64)), secure=True, httponly=True)',
        ret="return response",
        imports=("import random",),
        fw="django",
    ),
    _s(
        "nonce = make_nonce()",
        'session["nonce"] = nonce',
        imports=("import random", "from flask import session"),
        module=("def make_nonce():", "    return str(random.randrange(10**12))"),
        fw="flask",
    ),
)
_RANDOM_SAFE = (
    _s(
        'session["token"] = secrets.token_urlsafe(16)',
        imports=("import secrets", "from flask import session"),
        fw="flask",
    ),
    _s(
        "code = random.SystemRandom().randint(100000, 999999)",
        'request.session["reset_code"] = code',
        imports=("import random",),
        fw="django",
    ),
    _s(
        'response = HttpResponse("ok")',
        'response.set_cookie("sid", os.urandom(16).hex(), secure=True, httponly=True)',
        ret="return response",
        imports=("import os",),
        fw="django",
    ),
    _s('session["nonce"] = str(uuid.uuid4())', imports=("import uuid", "from flask import session"), fw="flask"),
    _s(
        "rng = secrets.SystemRandom()",
        'session["pin"] = rng.randint(1000, 9999)',
        imports=("import secrets", "from flask import session"),
        fw="flask",
    ),
)


def _handler(source: Source, fn: str, flow: Flow, sink: Sink, *, uses_param: bool = True) -> str:
    imports: list[str] = []
    for line in (*flow.imports, *sink.imports):
        if line not in imports:
            imports.append(line)
    head = [line for line in source.imports if line.startswith(("from", "import"))]
    setup = [line for line in source.imports if not line.startswith(("from", "import"))]
    lines = ["from __future__ import annotations", "", *dict.fromkeys([*head, *imports]), "", *setup]
    if sink.module or flow.module:
        lines += ["", *sink.module, *flow.module]
    lines += ["", ""]
    lines += source.header.format(fn=fn).splitlines()
    body = [f"param = {source.expr}"] if uses_param else []
    body += list(flow.lines)
    body += list(sink.lines)
    body.append(sink.ret or source.done())
    lines += [f"    {line}" for line in body]
    return "\n".join(lines) + "\n"


def _pick(sinks: Sequence[Sink], source: Source, index: int) -> Sink | None:
    fitting = [s for s in sinks if s.fits(source)]
    return fitting[index % len(fitting)] if fitting else None


def _sources(category: Category) -> list[Source]:
    return [s for s in SOURCES if s.web or not category.web_only]


def _cases(category: Category) -> Iterator[tuple[str, bool, Source, Flow, Sink]]:
    sources = _sources(category)
    # vulnerable: every source once with a tainted flow, cycling sinks and flows independently
    for i, source in enumerate(sources):
        for extra in range(2 if len(sources) < 10 else 1):
            k = i + extra * len(sources)
            sink = _pick(category.vulnerable, source, k)
            if sink is not None:
                yield (
                    f"vuln-{source.kind}-{TAINTED[k % len(TAINTED)].kind}",
                    True,
                    source,
                    TAINTED[k % len(TAINTED)],
                    sink,
                )
    if category.taint:
        # safe: the same vulnerable sinks, fed a value that is constant by the time it gets there
        for i, flow in enumerate(CONSTANT):
            for extra in range(2):
                source = sources[(i * 2 + extra) % len(sources)]
                sink = _pick(category.vulnerable, source, i + extra)
                if sink is not None:
                    yield f"safe-const-{source.kind}-{flow.kind}", False, source, flow, sink
        for i, sink in enumerate(category.sanitised):
            for extra in range(2):
                fitting = [s for s in sources if sink.fits(s)]
                source = fitting[(i + extra * 3) % len(fitting)]
                flow = TAINTED[(i * 3 + extra) % len(TAINTED)]
                yield f"safe-sanitised-{source.kind}-{i}-{flow.kind}", False, source, flow, sink
        for i, flow in enumerate(HARD_SAFE):
            source = sources[(i * 5 + 3) % len(sources)]
            sink = _pick(category.vulnerable, source, i + 1)
            if sink is not None:
                yield f"safe-hard-{source.kind}-{flow.kind}", False, source, flow, sink
        for i, flow in enumerate(HARD_VULN):
            source = sources[(i * 3 + 1) % len(sources)]
            sink = _pick(category.vulnerable, source, i + 2)
            if sink is not None:
                yield f"vuln-hard-{source.kind}-{flow.kind}", True, source, flow, sink
    for i, sink in enumerate(category.safe_api):
        fitting = [s for s in sources if sink.fits(s)]
        for extra in range(2 if category.taint else 3):
            source = fitting[(i * 2 + extra) % len(fitting)]
            flow = TAINTED[(i + extra * 5) % len(TAINTED)]
            yield f"safe-api-{source.kind}-{i}-{flow.kind}", False, source, flow, sink


def build() -> list[WebCase]:
    """The whole corpus, in a fixed order."""
    out: list[WebCase] = []
    seen: set[str] = set()

    def add(category: str, key: str, vulnerable: bool, text: str) -> None:
        case_id = f"{category}/{key}"
        n = 2
        while case_id in seen:
            case_id, n = f"{category}/{key}-{n}", n + 1
        seen.add(case_id)
        out.append(WebCase(case_id, category, vulnerable, text))

    for category in CATEGORIES:
        for number, (key, vulnerable, source, flow, sink) in enumerate(_cases(category)):
            add(category.name, key, vulnerable, _handler(source, f"handler_{number}", flow, sink))
    web = [s for s in SOURCES if s.web]
    plain = Flow("none", ())
    for groups, vulnerable in ((_RANDOM_VULN, True), (_RANDOM_SAFE, False)):
        for i, sink in enumerate(groups):
            fitting = [s for s in web if sink.fits(s)]
            for extra in range(3):
                source = fitting[(i + extra * 2) % len(fitting)]
                key = f"{'vuln' if vulnerable else 'safe'}-{source.kind}-{i}"
                add("weakrand", key, vulnerable, _handler(source, f"handler_{i}_{extra}", plain, sink, uses_param=True))
    return out


def by_category(cases: Sequence[WebCase]) -> dict[str, list[WebCase]]:
    out: dict[str, list[WebCase]] = {name: [] for name in CATEGORY_NAMES}
    for case in cases:
        out[case.category].append(case)
    return out


Builder = Callable[[], list[WebCase]]
