"""The data-flow analysis: sources, propagation, sanitisers and sinks, and the evidence it gives bandit's filter."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from symphony_assist_hooks.analyzers.common import Target
from symphony_assist_hooks.analyzers.security import SecurityAnalyzer
from symphony_assist_hooks.analyzers.taint import TaintResult, analyze_source
from symphony_assist_hooks.evaluate.webcorpus import CATEGORY_NAMES, build
from symphony_assist_hooks.evaluate.websec import category_of_rule, check_websec, run_websec, score

FLASK = "from flask import Flask, request, session, redirect, make_response\napp = Flask(__name__)\n"


def _flow(body: str, head: str = FLASK) -> TaintResult:
    result = analyze_source(head + textwrap.dedent(body))
    assert result is not None
    return result


def _hits(body: str, head: str = FLASK) -> set[str]:
    return {h.category for h in _flow(body, head).hits}


def _review(text: str, path: str = "app/views.py") -> list[tuple[int, str]]:
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file(path, text)])
    return sorted((f.line, f.rule) for f in findings)


@pytest.mark.parametrize(
    ("body", "category"),
    [
        ('@app.route("/a")\ndef a():\n    os.system("ls " + request.args["d"])\n', "cmdi"),
        ('@app.route("/a")\ndef a():\n    x = request.form.get("v")\n    subprocess.run(["sh", "-c", f"echo {x}"])\n',
         "cmdi"),
        ('@app.route("/a/<name>")\ndef a(name):\n    cur.execute("SELECT * FROM t WHERE n = \'%s\'" % name)\n', "sqli"),
        ('@app.route("/a")\ndef a():\n    v = request.get_json()["code"]\n    return eval(v)\n', "codei"),
        ('@app.route("/a")\ndef a():\n    p = request.cookies["f"]\n    return open("/srv/" + p).read()\n',
         "pathtraver"),
        ('@app.route("/a")\ndef a():\n    return "<p>%s</p>" % request.args["q"]\n', "xss"),
        ('@app.route("/a")\ndef a():\n    return root.xpath("//u[@n=\'" + request.args["u"] + "\']")\n', "xpathi"),
        ('@app.route("/a")\ndef a():\n    conn.search_s("dc=x", 2, f"(uid={request.args[\'u\']})")\n', "ldapi"),
        ('@app.route("/a")\ndef a():\n    return redirect(request.args["next"])\n', "redirect"),
        ('@app.route("/a")\ndef a():\n    session["u"] = request.headers["X-User"]\n    return "ok"\n', "trustbound"),
        ('@app.route("/a")\ndef a():\n    r = make_response("ok")\n    r.set_cookie("k", "v")\n    return r\n',
         "securecookie"),
        ('@app.route("/a")\ndef a():\n    t = str(random.random())[2:]\n    session["t"] = t\n    return "ok"\n',
         "weakrand"),
        ('def load(blob):\n    return pickle.loads(blob)\n', "deserialization"),
        ('algo = ["sha256", "md5"][1]\nh = hashlib.new(algo)\n', "hash"),
        ('p = etree.XMLParser(resolve_entities=True)\n', "xxe"),
    ],
)  # fmt: skip
def test_each_category_has_a_sink(body: str, category: str) -> None:
    head = FLASK + "import os, subprocess, random, pickle, hashlib\nfrom lxml import etree\n"
    assert category in _hits(body, head)


def test_sources_cover_django_fastapi_cli_and_environment() -> None:
    django = "import os\nfrom django.http import HttpResponse\n"
    assert "cmdi" in _hits('def view(request):\n    os.system(request.GET["c"])\n', django)
    assert "xss" in _hits('def view(request, slug):\n    return HttpResponse(f"<h1>{slug}</h1>")\n', django)
    fastapi = "import os\nfrom fastapi import FastAPI, Depends\napp = FastAPI()\n"
    assert "cmdi" in _hits('@app.get("/x")\nasync def x(q: str):\n    os.system(q)\n', fastapi)
    assert _hits('@app.get("/x")\nasync def x(n: int, db=Depends(get_db)):\n    os.system(f"k {n} {db}")\n',
                 fastapi) == set()  # fmt: skip
    script = "import os, sys\n"
    assert "cmdi" in _hits('def main():\n    os.system("rm " + sys.argv[1])\n', script)
    assert "cmdi" in _hits('def main():\n    os.system(os.environ["CMD"])\n', script)
    assert "cmdi" in _hits('def main():\n    os.system(input("> "))\n', script)


def test_request_named_parameters_are_not_sources_outside_web_code() -> None:
    plain = "import os\n"
    assert _hits("def send(request, path):\n    os.system(path)\n", plain) == set()


def test_propagation_through_containers_helpers_and_strings() -> None:
    body = """
    def tidy(value):
        return value.strip()

    @app.route("/a")
    def a():
        p = request.args["p"]
        m = {"safe": "x", "bad": p}
        parts = []
        for piece in m["bad"].split(","):
            parts.append(piece)
        cmd = "echo {}".format(",".join(parts))
        cmd += tidy(p)
        os.system(cmd)
        return "ok"
    """
    assert _hits(body, FLASK + "import os\n") == {"cmdi"}


def test_sinks_inside_a_helper_are_reported_from_the_call() -> None:
    body = """
    def run(cmd):
        os.system("sh -c " + cmd)

    @app.route("/a")
    def a():
        run(request.args["c"])
        return "ok"
    """
    flow = _flow(body, FLASK + "import os\n")
    assert [(h.category, h.line) for h in flow.hits] == [("cmdi", 6)]
    assert "via the call at line 10" in flow.hits[0].sink


@pytest.mark.parametrize(
    "line",
    [
        'bar = {"a": "safe", "b": p}["a"]',
        'bar = ["safe", p, "more"][2]',
        'bar = "safe" if (7 * 18) + 106 > 200 else p',
        'bar = p\n    bar = "fixed"',
        'vals = ["safe", p, "more"]\n    vals.pop(0)\n    bar = vals[1]',
        'guess = "ABC"\n    match guess[1]:\n        case "A":\n            bar = p\n        case _:\n            bar = "b"',
        "bar = shlex.quote(p)",
        "bar = str(int(p))",
        'if not re.fullmatch(r"[A-Za-z0-9_]+", p):\n        abort(400)\n    bar = p',
    ],
)
def test_constants_and_sanitisers_stop_the_flow(line: str) -> None:
    body = f'@app.route("/a")\ndef a():\n    p = request.args["p"]\n    {line}\n    os.system("echo " + bar)\n'
    assert _hits(body, FLASK + "import os, re, shlex\nfrom flask import abort\n") == set()


def test_sanitisers_are_specific_to_their_category() -> None:
    head = FLASK + "import os\nfrom markupsafe import escape\n"
    assert _hits('@app.route("/a")\ndef a():\n    return f"<p>{escape(request.args[\'q\'])}</p>"\n', head) == set()
    assert _hits('@app.route("/a")\ndef a():\n    os.system(escape(request.args["q"]))\n', head) == {"cmdi"}


def test_path_containment_check_and_basename() -> None:
    head = FLASK + "import os\n"
    checked = """
    @app.route("/f")
    def f():
        base = os.path.realpath("/srv")
        path = os.path.realpath(os.path.join(base, request.args["n"]))
        if not path.startswith(base + os.sep):
            raise PermissionError(path)
        data = open(path).read()
        return str(len(data))
    """
    assert _hits(checked, head) == set()
    unchecked = checked.replace("        if not path.startswith(base + os.sep):\n", "").replace(
        "            raise PermissionError(path)\n", ""
    )
    assert _hits(unchecked, head) == {"pathtraver"}
    assert _hits('@app.route("/f")\ndef f():\n    open(os.path.basename(request.args["n"]))\n', head) == set()


def test_redirect_with_a_netloc_check_and_url_for_are_safe() -> None:
    head = FLASK + "from urllib.parse import urlparse\nfrom flask import url_for\n"
    checked = """
    @app.route("/r")
    def r():
        target = request.args["next"]
        if urlparse(target).netloc not in ("", "example.com"):
            target = "/"
        return redirect(target)
    """
    assert _hits(checked, head) == set()
    assert _hits('@app.route("/r")\ndef r():\n    return redirect(url_for("p", n=request.args["n"]))\n', head) == set()


def test_safe_api_use_is_not_flagged() -> None:
    head = FLASK + "import subprocess, yaml, hashlib\nfrom flask import render_template, jsonify\n"
    body = """
    @app.route("/s")
    def s():
        q = request.args["q"]
        cur.execute("SELECT * FROM t WHERE n = ?", (q,))
        subprocess.run(["grep", "--", q, "log"])
        root.xpath("//u[@n=$n]", n=q)
        data = yaml.safe_load(q)
        digest = hashlib.sha256(q.encode()).hexdigest()
        r = make_response(render_template("p.html", q=q))
        r.set_cookie("k", q, secure=True, httponly=True)
        return jsonify(q=q)
    """
    assert _hits(body, head) == set()


def test_weak_random_needs_a_flow_into_a_secret_sink() -> None:
    head = FLASK + "import random, secrets\n"
    assert _hits('@app.route("/a")\ndef a():\n    random.shuffle(xs)\n    return "ok"\n', head) == set()
    assert (
        _hits('@app.route("/a")\ndef a():\n    session["t"] = secrets.token_hex(8)\n    return "ok"\n', head) == set()
    )
    via_cookie = """
    @app.route("/a")
    def a():
        n = random.randint(0, 10**9)
        r = make_response("ok")
        r.set_cookie("remember", hex(n), secure=True, httponly=True)
        return r
    """
    assert _hits(via_cookie, head) == {"weakrand"}


def test_xxe_follows_the_parser_settings() -> None:
    head = "import io, xml.sax\nfrom xml.sax.handler import feature_external_ges\n"
    on = 'p = xml.sax.make_parser()\np.setFeature(feature_external_ges, True)\np.parse(io.StringIO(""))\n'
    off = on.replace("True", "False")
    assert _hits(on, head) == {"xxe"}
    assert _flow(on, head).external_entities
    assert _hits(off, head) == set() and not _flow(off, head).external_entities


def test_the_analysis_survives_odd_code() -> None:
    odd = """
    x = 1 << 10**6
    y = "a" * 10**9
    z = [1][5]
    w = 1 / 0
    def f(*args, **kw):
        global x
        while True:
            break
        try:
            pass
        except* ValueError:
            pass
        del x
        return (yield)
    class C:
        def m(self, request):
            lambda: request
    """
    assert _flow(odd, "").hits == []
    assert analyze_source("def f(:\n") is None


# -- the security analyzer: evidence-based filtering of bandit ---------------------------------------------
def test_bandit_findings_on_provably_constant_values_are_dropped() -> None:
    text = textwrap.dedent(
        """
        import os
        import subprocess

        def run(arg):
            choice = ["ls", arg][0]
            os.system("echo " + choice)
            subprocess.call(f"ls {'-l' if 7 * 42 - 86 > 200 else arg}", shell=True)
            sql = f"SELECT * FROM t WHERE id = ?"
            return sql

        def real(cmd):
            os.system(cmd)
        """
    )
    assert _review(text) == [(13, "bandit/B605")]


def test_bandit_true_positives_are_kept_and_flows_add_to_them() -> None:
    text = FLASK + textwrap.dedent(
        """
        import os, pickle, random

        @app.route("/a")
        def a():
            os.system("ls " + request.args["d"])
            token = random.random()
            session["t"] = str(token)
            return pickle.loads(request.data)
        """
    )
    rules = _review(text)
    assert (8, "taint/command-injection") in rules
    assert (9, "bandit/B311") in rules  # the random call itself, as bandit says
    assert (10, "taint/weak-random") in rules  # where the value becomes a secret
    assert (11, "bandit/B301") in rules  # the API check keeps bandit's rule id
    assert not any(rule == "bandit/B605" for _, rule in rules)  # same line as the data-flow finding


def test_random_is_reported_without_a_name_heuristic() -> None:
    text = "import random\n\n\ndef pick():\n    return random.randint(1, 6)\n"
    assert _review(text) == [(5, "bandit/B311")]


def test_sax_parser_with_defaults_is_not_xxe_but_with_external_entities_it_is() -> None:
    safe = "import io\nimport xml.sax\n\nparser = xml.sax.make_parser()\nparser.parse(io.StringIO('<a/>'))\n"
    assert not any("B317" in rule for _, rule in _review(safe))
    unsafe = safe.replace(
        "parser.parse", "parser.setFeature(xml.sax.handler.feature_external_ges, True)\nparser.parse"
    ).replace("import xml.sax\n", "import xml.sax\nimport xml.sax.handler\n")
    rules = {rule for _, rule in _review(unsafe)}
    assert "taint/xxe" in rules


def test_files_the_interpreter_cannot_parse_get_one_notice() -> None:
    good = Target.whole_file("ok.py", "import os\nos.system('ls')\n")
    bad = [Target.whole_file(f"new{i}.py", "def f(:\n") for i in range(3)]
    result = SecurityAnalyzer(find_secrets=lambda _: []).analyze([good, *bad])
    notices = [n for n in result.notices if "not analysed" in n]
    assert len(notices) == 1
    assert notices[0].startswith("security: 3 Python file(s) not analysed")
    assert "and 2 more" in notices[0]


def test_findings_are_only_on_changed_lines() -> None:
    text = FLASK + 'import os\n\n@app.route("/a")\ndef a():\n    d = request.args["d"]\n    os.system(d)\n'
    target = Target("app/v.py", text, frozenset({7}))
    assert SecurityAnalyzer(find_secrets=lambda _: []).review([target]) == []


# -- corpus and scoring ----------------------------------------------------------------------------------
def test_corpus_has_twenty_cases_per_category_both_labels_and_parses() -> None:
    cases = build()
    assert [c.id for c in cases] == [c.id for c in build()]  # deterministic
    assert len({c.id for c in cases}) == len(cases)
    for name in CATEGORY_NAMES:
        mine = [c for c in cases if c.category == name]
        assert len(mine) >= 20, name
        assert any(c.vulnerable for c in mine) and any(not c.vulnerable for c in mine), name
    for case in cases:
        compile(case.text, case.id, "exec")


def test_scoring_is_tpr_minus_fpr() -> None:
    cases = [c for c in build() if c.category == "cmdi"]
    everything = {f"webcases/{c.id}.py": {"cmdi"} for c in cases}
    assert score(cases, everything)["categories"]["cmdi"]["score"] == 0.0
    assert score(cases, {})["categories"]["cmdi"]["score"] == 0.0
    right = {f"webcases/{c.id}.py": {"cmdi"} for c in cases if c.vulnerable}
    assert score(cases, right)["categories"]["cmdi"]["score"] == 1.0


def test_rules_map_to_corpus_categories() -> None:
    assert category_of_rule("taint/sql-injection") == "sqli"
    assert category_of_rule("bandit/B602") == "cmdi"
    assert category_of_rule("bandit/B404") is None
    assert category_of_rule("ruff/F821") is None


def test_web_security_suite_beats_bandit_in_every_category() -> None:
    doc = run_websec([c for c in build() if c.id.endswith(("-direct", "-fstring", "-dict-const-key", "-0"))])
    assert doc["overall"]["ours"] > doc["overall"]["bandit"]
    below = check_websec(doc, {"web-security": {"overall": 0.0, "margin_over_bandit": 15}})
    assert below == []
    assert check_websec(doc, {}) == [
        "thresholds.json has no 'web-security' entry; add one (see `eval --suite web-security --json`)"
    ]


def test_eval_web_security_suite_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from symphony_assist_hooks.cli import main

    assert main(["--offline", "eval", "--suite", "web-security", "--check", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["suite"] == "web-security" and doc["check"] == {"passed": True, "problems": []}
    assert doc["overall"]["margin"] >= 0.15
    assert all(row["ours"]["score"] >= row["bandit"]["score"] for row in doc["categories"].values())
    assert main(["--offline", "eval", "--suite", "web-security"]) == 0
    text = capsys.readouterr().out
    assert "command injection" in text and "(margin +" in text
    assert main(["--offline", "eval", "--suite", "web-security", "--cases", "x"]) == 2
    assert "drop --cases" in capsys.readouterr().err


def test_local_sources_are_not_path_traversal_but_still_injection() -> None:
    script = "import os, sys\n"
    assert _hits('def main():\n    open(sys.argv[1]).read()\n    os.system("ls " + sys.argv[1])\n', script) == {"cmdi"}


def test_a_helper_parameter_is_not_a_source_even_mixed_with_local_data() -> None:
    text = "import os\n\ndef load(name):\n    base = os.environ.get('HOME', '')\n    return open(os.path.join(base, name))\n"
    assert _hits(text, "") == set()


def test_module_level_exit_does_not_stop_the_analysis() -> None:
    text = FLASK + "import os, sys\nif len(sys.argv) > 5:\n    sys.exit(1)\nraise SystemExit(0)\n"
    assert _flow(text, "").hits == []


def test_a_shell_list_with_a_dynamic_command_is_reported_like_shell_true() -> None:
    text = "import subprocess\n\ndef run(x):\n    subprocess.run(['sh', '-c', f'echo {x}'])\n    subprocess.run(['sh', '-c', 'echo hi'])\n"
    assert _review(text, "tools/run.py") == [(4, "taint/command-injection")]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12 parses PEP 701 f-strings")
def test_newer_f_string_syntax_is_counted_once_per_run() -> None:
    newer = 'x = {"a": 1}\nprint(f"{x["a"]}")\n'
    targets = [Target.whole_file(f"m{i}.py", newer) for i in range(4)]
    result = SecurityAnalyzer(find_secrets=lambda _: []).analyze(targets)
    assert result.findings == []
    assert len(result.notices) == 1 and result.notices[0].startswith("security: 4 Python file(s) not analysed")
