"""The taint engine's abstract interpreter: statements, expressions, containers and calls it follows or folds.

Each test gives a small handler and says where a finding must be (category, line within the snippet) and
where none may be: a constant the engine can prove, a sanitised value, unreachable code.
"""

from __future__ import annotations

import textwrap

from symphony_assist_hooks.analyzers.taint import TaintResult, analyze_source

HEAD = (
    "from flask import Flask, request, session, redirect, abort, make_response\n"
    "import os, subprocess, random, re, yaml, ldap, hashlib\n"
    "from lxml import etree\n"
    "app = Flask(__name__)\n"
)


def _flow(body: str, head: str = HEAD) -> tuple[TaintResult, int]:
    result = analyze_source(head + textwrap.dedent(body).lstrip("\n"))
    assert result is not None
    return result, head.count("\n")


def _found(body: str, head: str = HEAD) -> list[tuple[str, int]]:
    """(category, line within `body`, counting its first line as 1) of every hit."""
    result, offset = _flow(body, head)
    return sorted((h.category, h.line - offset) for h in result.hits)


def _constant(body: str, line: int, head: str = HEAD) -> bool:
    """Whether every value recorded on that line of `body` was a provable constant."""
    result, offset = _flow(body, head)
    return result.line_constant[line + offset]


def test_the_request_reached_through_the_module_name_is_a_source() -> None:
    """`import flask` then `flask.request.args`: as tainted as `from flask import request`."""
    body = """
        @app.route("/go")
        def go():
            return flask.redirect(flask.request.args.get("next"))

        @app.route("/q")
        def q():
            os.system("grep " + flask.request.form["q"])
            return ""
    """
    head = "import os\nimport flask\napp = flask.Flask(__name__)\n"
    assert _found(body, head) == [("cmdi", 7), ("redirect", 3)]


# -- assignment targets -----------------------------------------------------------------------------------
def test_tuple_unpacking_keeps_each_element_apart() -> None:
    body = """
    @app.route("/a")
    def a():
        safe, bad = "ls", request.args["c"]
        os.system(safe)
        os.system(bad)
        first, *rest = [request.args["p"], "x"]
        os.system(first)
        os.system(rest[0])
        head, *tail = request.args["q"].split(",")
        os.system(head)
        return "ok"
    """
    assert _found(body) == [("cmdi", 5), ("cmdi", 7), ("cmdi", 10)]


def test_list_and_dict_items_stored_by_index_and_key() -> None:
    body = """
    @app.route("/a")
    def a():
        cmd = ["ls", "pwd"]
        cmd[1] = request.args["c"]
        os.system(cmd[0])
        os.system(cmd[1])
        cfg = {"db": {"q": "x", "safe": "ls"}}
        cfg["db"]["q"] = request.args["q"]
        os.system(cfg["db"]["safe"])
        os.system(cfg["db"]["q"])
        other = load()
        other["a"]["b"] = request.args["b"]
        os.system(other["z"])
        table = {"db": {"q": "x"}}
        table[request.args["k"]]["q"] = request.args["q"]
        os.system(table["db"]["q"])
        os.system("LS".lower())
        return "ok"
    """
    assert _found(body) == [("cmdi", 6), ("cmdi", 10), ("cmdi", 13), ("cmdi", 16)]


def test_a_store_at_an_unknown_index_taints_the_whole_list() -> None:
    body = """
    @app.route("/a")
    def a():
        i = len(request.args)
        cmd = ["ls", "pwd"]
        cmd[5] = "date"
        os.system(cmd[0])
        cmd[i] = request.args["c"]
        os.system(cmd[0])
        return "ok"
    """
    assert _found(body) == [("cmdi", 8)]


def test_annotation_without_value_keeps_the_data() -> None:
    body = """
    @app.route("/a")
    def a():
        cmd = request.args["c"]
        cmd: str
        os.system(cmd)
        return "ok"
    """
    assert _found(body) == [("cmdi", 5)]


def test_statement_forms_that_carry_data() -> None:
    body = """
    @app.route("/a")
    def a(job):
        cmd: str = request.args["c"]
        job.command = cmd
        assert cmd, "empty"
        with lock:
            os.system(cmd)
        os.system(job.command)
        job.mode = "fast"
        os.system(job.mode)
        unknown_global.cmd = cmd
        return "ok"
    """
    assert _found(body) == [("cmdi", 7), ("cmdi", 8), ("cmdi", 10)]


# -- control flow -----------------------------------------------------------------------------------------
def test_code_after_paths_that_all_stop_is_unreachable() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["c"]
        if p:
            return "yes"
        else:
            abort(400)
        os.system(p)

    @app.route("/b")
    def b():
        p = request.args["c"]
        try:
            return "ok"
        except KeyError:
            raise
        finally:
            os.system(p)
        os.system("x" + p)
    """
    assert _found(body) == [("cmdi", 18)]


def test_a_handler_that_re_raises_leaves_the_body_env() -> None:
    body = """
    @app.route("/a")
    def a():
        cmd = "ls"
        try:
            cmd = request.args["c"]
        except KeyError:
            raise
        except ValueError:
            cmd = "pwd"
        os.system(cmd)
        return "ok"
    """
    assert _found(body) == [("cmdi", 10)]


def test_the_else_of_a_try_whose_body_returned_never_runs() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["p"]
        try:
            return run()
        except ValueError:
            cmd = p
        else:
            cmd = "ls"
        os.system(cmd)
    """
    assert _found(body) == [("cmdi", 10)]


def test_constant_loop_and_branch_conditions_skip_dead_bodies() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["c"]
        while False:
            os.system(p)
        else:
            os.system("ls")
        while 0:
            pass
        if -1 + 1:
            os.system(p)
        if not 0:
            cmd = "ls"
        os.system(cmd)
        return "ok"
    """
    assert _found(body) == []


def test_iterating_a_dict_gives_its_constant_keys() -> None:
    body = """
    @app.route("/a")
    def a():
        table = {"ls": request.args["x"], "pwd": request.args["y"]}
        for key in table:
            os.system(key)
        for value in table.values():
            os.system(value)
        return "ok"
    """
    assert _found(body) == [("cmdi", 7)]


def test_match_on_request_data_joins_every_case() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["p"]
        match request.args["mode"]:
            case "run":
                cmd = p
            case "stop":
                return "stopped"
            case _:
                cmd = "ls"
        os.system(cmd)
        return "ok"
    """
    assert _found(body) == [("cmdi", 11)]


def test_match_on_a_constant_takes_only_the_matching_case() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["p"]
        mode = "strict"
        match mode:
            case "loose":
                os.system(p)
            case "strict":
                abort(403)
        os.system(p)

    @app.route("/b")
    def b():
        p = request.args["p"]
        match "x":
            case "y":
                pass
            case _:
                return "no"
        os.system(p)
    """
    assert _found(body) == []


def test_match_a_constant_where_an_earlier_case_may_match_too() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["p"]
        match "x":
            case Mode.RUN:
                cmd = p
            case _:
                cmd = "ls"
        os.system(cmd)
        return "ok"

    @app.route("/c")
    def c():
        p = request.args["p"]
        match "x":
            case str() if p:
                cmd = p
            case "x":
                cmd = "ls"
        os.system(cmd)
        return "ok"

    @app.route("/d")
    def d():
        p = request.args["p"]
        match "x":
            case Mode.RUN:
                return "run"
            case "x":
                abort(400)
        os.system(p)
    """
    assert _found(body) == [("cmdi", 9), ("cmdi", 20)]


# -- guards -----------------------------------------------------------------------------------------------
def test_path_checks_with_commonpath_and_is_relative_to() -> None:
    body = """
    @app.route("/a")
    def a():
        path = os.path.realpath(os.path.join("/srv", request.args["n"]))
        if os.path.commonpath([path, "/srv"]) == "/srv":
            os.remove(path)
        if not path.is_relative_to("/srv"):
            abort(403)
        os.remove(path)
        os.remove(path + request.args["m"])
        return "ok"
    """
    assert _found(body) == [("pathtraver", 9)]


def test_a_permissive_pattern_or_an_unknown_container_is_no_allow_list() -> None:
    body = """
    @app.route("/a")
    def a():
        c = request.args["c"]
        if not re.fullmatch(r".*", c):
            abort(400)
        os.system(c)
        if c not in load_allowed():
            abort(400)
        os.system(c)
        if re.fullmatch(r"[a-z]+", c + "x"):
            os.system(c)
        return "ok"
    """
    assert _found(body) == [("cmdi", 6), ("cmdi", 9), ("cmdi", 11)]


# -- expressions ------------------------------------------------------------------------------------------
def test_boolean_and_unary_operators_fold_constants() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["p"]
        os.system("" or "ls")
        os.system("ls" and "pwd")
        os.system(["ls", p][-2])
        os.system(["ls", p][~0])
        os.system(p or "ls")
        os.system(-p)
        return "ok"
    """
    assert _found(body) == [("cmdi", 7), ("cmdi", 8), ("cmdi", 9)]
    assert _constant(body, 4) and _constant(body, 5) and _constant(body, 6)
    assert not _constant(body, 7)


def test_operations_that_fail_or_grow_are_not_folded() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["p"]
        os.system(-"ls")
        os.system("ls" if "a" < 1 else p)
        os.system("ls" if 2 ** 100 else p)
        os.system("ls" if 0 ** -1 else p)
        os.system("{}".format())
        os.system(int("x"))
        os.system(bytes(-1))
        os.system("ls"[5])
        os.system(["ls", p][:len(p)])
        return "ok"
    """
    assert _found(body) == [("cmdi", 5), ("cmdi", 6), ("cmdi", 7), ("cmdi", 12)]
    assert not _constant(body, 4)
    assert not _constant(body, 8) and not _constant(body, 9) and not _constant(body, 10)


def test_constant_arithmetic_and_conversions_are_folded() -> None:
    body = """
    @app.route("/a")
    def a(p):
        os.system("-" * 3)
        os.system("ls " + str(2 ** 10))
        os.system("ls " + str(int("80")))
        os.system(" ".join(["ls", p][:1]))
        os.system(" ".join(["ls", p][1:]))
        os.system("ls -l".split()[0])
        os.system("ls " + str(len([p, p])))
        os.system(list(["ls", p])[0])
        return "ok"
    """
    assert _found(body) == [("cmdi", 7)]
    for line in (3, 4, 5, 8, 9):
        assert _constant(body, line), line


def test_string_formatting_with_a_tuple_and_list_concatenation() -> None:
    body = """
    @app.route("/a")
    def a(cur):
        p = request.args["p"]
        cur.execute("SELECT * FROM t WHERE a = '%s' AND b = '%s'" % ("x", p))
        cur.execute("SELECT * FROM t WHERE a = '%s' AND b = '%s'" % ("x", "y"))
        subprocess.run(["ls", "--"] + [p])
        subprocess.run([p] + ["--help"])
        subprocess.run(["ls"] + [p], shell=True)
        return "ok"
    """
    assert _found(body) == [("cmdi", 7), ("cmdi", 8), ("sqli", 4)]
    assert _constant(body, 5)


def test_sets_starred_items_and_dict_unpacking_carry_the_data() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["p"]
        os.system(" ".join({"ls", p}))
        os.system(" ".join(["ls", *p.split()]))
        cfg = {**defaults(), "cmd": p}
        os.system(cfg["other"])
        os.system(*[p])
        os.system(" ".join({"ls", "-l"}))
        os.system(" ".join([*[]]))
        return "ok"
    """
    assert _found(body) == [("cmdi", 4), ("cmdi", 5), ("cmdi", 7), ("cmdi", 8)]


def test_comprehensions_await_and_walrus_carry_the_data() -> None:
    head = "import os\nfrom fastapi import FastAPI, Request\napp = FastAPI()\n"
    body = """
    @app.post("/a")
    async def a(request: Request):
        form = await request.form()
        upper = {k.upper(): v for k, v in form.items()}
        os.system(upper["CMD"])
        if (cmd := form.get("cmd")):
            os.system(cmd)
        return {"ok": True}
    """
    assert _found(body, head) == [("cmdi", 5), ("cmdi", 7)]


def test_a_lookup_by_request_data_in_a_constant_table_is_constant() -> None:
    body = """
    @app.route("/a")
    def a():
        k = request.args["k"]
        commands = {"list": "ls", "where": "pwd"}
        os.system(commands[k])
        os.system(commands.get(k, "ls"))
        os.system(["ls", "pwd"][k])
        os.system(commands.get("missing", "date"))
        os.system(commands.get("missing") or "ls")
        os.system(dict(a="ls", b="pwd")["a"])
        mixed = {"a": "ls", "b": k}
        os.system(mixed[request.args["j"]])
        os.system(mixed.get("c", k))
        return "ok"
    """
    assert _found(body) == [("cmdi", 12), ("cmdi", 13)]


# -- mutation of local containers -------------------------------------------------------------------------
def test_list_mutators_track_positions() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["p"]
        argv = ["ls"]
        argv.extend(["-l", p])
        subprocess.run(argv)
        argv.insert(0, p)
        subprocess.run(argv)
        safe = ["ls", "pwd"]
        safe.remove("ls")
        os.system(safe[0])
        mixed = ["ls", p]
        mixed.remove("ls")
        os.system(mixed[0])
        empty = []
        empty.pop()
        return "ok"
    """
    assert _found(body) == [("cmdi", 8), ("cmdi", 14)]


def test_dict_mutators_track_keys() -> None:
    body = """
    @app.route("/a")
    def a():
        p = request.args["p"]
        cmds = {"a": "ls"}
        os.system(cmds.setdefault("a", p))
        os.system(cmds.setdefault("b", p))
        cmds.update(a=p)
        os.system(cmds["a"])
        os.system(cmds.pop("a"))
        os.system(cmds.pop("zzz", "ls"))
        os.system(cmds.__setitem__("c", "pwd"))
        cmds.update(request.args)
        os.system(cmds["x"])
        return "ok"
    """
    assert _found(body) == [("cmdi", 6), ("cmdi", 8), ("cmdi", 9), ("cmdi", 13)]


# -- helpers ----------------------------------------------------------------------------------------------
def test_a_sink_two_helpers_deep_is_reported_at_the_sink() -> None:
    body = """
    def run(cmd="ls"):
        os.system(cmd)

    def wrap(arg):
        run("echo " + arg)
        run("ls")
        run()

    @app.route("/a")
    def a():
        wrap(request.args["c"])
        wrap("safe")
        return "ok"
    """
    result, offset = _flow(body)
    assert [(h.category, h.line - offset) for h in result.hits] == [("cmdi", 2)]
    assert "via the call at line" in result.hits[0].sink
    from_env = body.replace('run("echo " + arg)', 'run(os.environ["CMD"])')
    result, offset = _flow(from_env)
    assert [(h.category, h.line - offset, h.sink) for h in result.hits] == [
        ("cmdi", 2, f"os.system (via the call at line {offset + 5})")
    ]


def test_recursive_helpers_and_handlers_called_directly_are_followed() -> None:
    body = """
    def build(cmd, n):
        if n:
            return build(cmd + " x", n - 1)
        return cmd

    @app.route("/a")
    def a():
        os.system(build(request.args["c"], 3))
        return b()

    @app.route("/b")
    def b():
        os.system(b())
        return "ok"
    """
    assert _found(body) == [("cmdi", 8)]


def test_handler_parameters_kw_only_defaults_and_route_converters() -> None:
    head = "import os\nfrom fastapi import FastAPI, Depends, Query\napp = FastAPI()\n"
    body = """
    @app.get("/x")
    async def x(*, q: str = Query(""), db=Depends(get_db), n: int, raw):
        os.system(f"{db} {n}")
        os.system(q)
        os.system(raw)
    """
    assert _found(body, head) == [("cmdi", 4), ("cmdi", 5)]
    flask = """
    @login_required
    @app.route(PREFIX + "/u/<int:uid>")
    @app.route("/u/<int:uid>/<name>")
    def u(uid, name):
        os.system(f"ls {uid}")
        os.system(f"ls {name}")
    """
    assert _found(flask) == [("cmdi", 6)]


def test_a_fastapi_handler_declared_to_return_html_is_an_xss_sink() -> None:
    head = "from fastapi import FastAPI\nfrom fastapi.responses import HTMLResponse\napp = FastAPI()\n"
    body = """
    @app.get("/h", response_class=HTMLResponse, tags=["x"])
    async def h(q: str):
        return f"<p>{q}</p>"

    @app.get("/j", tags=["x"])
    async def j(q: str):
        return f"<p>{q}</p>"

    @deprecated
    @app.get("/k", response_class=PlainTextResponse)
    async def k(q: str):
        return f"<p>{q}</p>"
    """
    assert _found(body, head) == [("xss", 3)]


# -- sinks ------------------------------------------------------------------------------------------------
def test_sink_argument_forms() -> None:
    body = """
    @app.route("/a")
    def a(Model):
        p = request.args["p"]
        subprocess.run(p)
        subprocess.run(load())
        Model.objects.extra(where=["name = '%s'" % p])
        Model.objects.extra(where=["name = 'x'"])
        open(file=p)
        open(file="x")
        return "ok"
    """
    assert _found(body) == [("cmdi", 4), ("pathtraver", 8), ("sqli", 6)]


def test_yaml_load_with_a_positional_loader() -> None:
    body = """
    def read(blob):
        safe = yaml.load(blob, yaml.SafeLoader)
        return yaml.load(blob, yaml.Loader), safe
    """
    assert _found(body) == [("deserialization", 3)]


def test_a_weak_random_generator_is_followed_through_a_variable() -> None:
    body = """
    @app.route("/a")
    def a():
        random.seed(4)
        session["seed"] = random.seed(4)
        session["t"] = str(random.Random().random())
        rng = random.Random()
        rng.seed(7)
        session["u"] = str(rng.random())
        session["s"] = rng.getstate()
        rng = random.SystemRandom()
        session["v"] = str(rng.random())
        return "ok"
    """
    assert _found(body) == [("weakrand", 5), ("weakrand", 8)]


def test_a_regex_search_on_request_data_is_no_ldap_query() -> None:
    body = """
    @app.route("/a")
    def a(conn):
        q = request.args["q"]
        digits = re.compile(r"\\d+")
        found = digits.search(q)
        conn.search("dc=example,dc=com", f"(uid={q})")
        conn.search(search_base=q)
        conn.search()
        return str(bool(found))
    """
    assert _found(body) == [("ldapi", 6), ("ldapi", 7)]


def test_a_set_of_constants_is_an_allow_list() -> None:
    body = """
    ALLOWED = {"ls", "pwd"}

    @app.route("/a")
    def a():
        c = request.args["c"]
        if c not in ALLOWED:
            abort(400)
        os.system(c)
        if request.args["d"] in frozenset(["ls", "pwd"]):
            os.system(request.args["d"])
        d = request.args["d"]
        if d in {"ls", request.args["e"]}:
            os.system(d)
        return "ok"
    """
    assert _found(body) == [("cmdi", 10), ("cmdi", 13)]


def test_an_inequality_check_that_fails_closed_guards_what_follows() -> None:
    head = HEAD + "from urllib.parse import urlparse\n"
    body = """
    @app.route("/f")
    def f():
        path = os.path.realpath(os.path.join("/srv", request.args["n"]))
        if os.path.commonpath([path, "/srv"]) != "/srv":
            abort(403)
        os.remove(path)
        return "ok"

    @app.route("/r")
    def r():
        target = request.args["next"]
        if urlparse(target).netloc != "":
            abort(400)
        return redirect(target)

    @app.route("/s")
    def s():
        target = request.args["next"]
        if urlparse(target).netloc != "evil.example":
            return redirect(target)
        return "no"
    """
    assert _found(body, head) == [("redirect", 20)]


def test_a_parser_that_may_resolve_entities_on_one_path_is_not_safe() -> None:
    body = """
    def parse(data, strict):
        parser = etree.XMLParser(resolve_entities=False)
        if strict:
            parser = etree.XMLParser()
        return etree.fromstring(data, parser)

    def parse_safe(data):
        parser = etree.XMLParser(resolve_entities=False)
        return etree.fromstring(data, parser)
    """
    result, offset = _flow(body)
    assert {n - offset for n in result.safe_xml_lines} == {9}


def test_code_too_deep_to_follow_gives_an_empty_result_and_too_deep_to_parse_none() -> None:
    chain = "+".join(["os.environ['A']"] * 1500)
    result = analyze_source(f"import os\nx = {chain}\nos.system(x)\n")
    assert result == TaintResult()
    shorter = "+".join(["os.environ['A']"] * 50)
    assert [h.line for h in (analyze_source(f"import os\nx = {shorter}\nos.system(x)\n") or TaintResult()).hits] == [3]
    deeper = "+".join(["os.environ['A']"] * 5000)
    assert analyze_source(f"import os\nx = {deeper}\nos.system(x)\n") is None


def test_a_cookie_jar_s_set_cookie_is_no_response_cookie() -> None:
    """http.cookiejar / requests' jar: set_cookie(cookie) stores a client's cookie; a response's takes a name."""
    body = """
        class Jar:
            def set(self, name, value):
                cookie = make(name, value)
                self.set_cookie(cookie)
                return cookie

        @app.route("/")
        def index():
            resp = make_response("x")
            resp.set_cookie("session")
            return resp
    """
    assert _found(body) == [("securecookie", 10)]


def test_a_django_style_function_returning_request_data_is_no_response_body() -> None:
    """djangorestframework's get_authorization_header(request) returns a header to its caller: a Django view
    answers with an HttpResponse, so only that is a body; a route handler's return value is one."""
    body = """
        def get_authorization_header(request):
            auth = request.META.get("HTTP_AUTHORIZATION", b"")
            return auth

        def search(request):
            return HttpResponse("<p>" + request.GET["q"])
    """
    head = "from django.http import HttpResponse\n"
    assert _found(body, head) == [("xss", 6)]
    assert _found('@app.route("/")\ndef echo():\n    return request.args["q"]\n') == [("xss", 3)]
