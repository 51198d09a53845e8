"""The security analyzer: bandit in-process, secrets on added lines, a few JS/shell patterns."""

from __future__ import annotations

import random
import string
import sys

import pytest
from fake_secrets import make

from symphony_assist_hooks.analyzers.common import Target
from symphony_assist_hooks.analyzers.security import SecurityAnalyzer
from symphony_assist_hooks.findings import Finding, Severity
from symphony_assist_hooks.scan.redact import SecretMatch

RISKY = """import hashlib
import pickle
import subprocess


def run(cmd, blob, password):
    subprocess.call(cmd, shell=True)
    data = pickle.loads(blob)
    return data, hashlib.md5(password.encode()).hexdigest()
"""


def _fake_aws_key() -> str:
    return make("aws-access-key-id", random.Random()).secrets[0]


def _fake_github_token() -> str:
    rng = random.Random()
    return "gh" + "p_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(36))


def _by_rule(findings: list[Finding]) -> dict[str, Finding]:
    return {f.rule: f for f in findings}


def test_bandit_findings_map_to_stable_rules_titles_and_severities() -> None:
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("app/run.py", RISKY)])
    rules = _by_rule(findings)
    shell = rules["bandit/B602"]
    assert (shell.line, shell.title, shell.severity) == (7, "subprocess call with shell=True", Severity.HIGH)
    assert "in `run`" in shell.message
    assert rules["bandit/B301"].line == 8
    assert rules["bandit/B324"].line == 9
    assert "bandit/B403" not in rules  # "import pickle" alone is not a finding
    assert all(f.source == "local" and f.template == "security" and f.fingerprint for f in findings)


def test_only_changed_lines_are_reported() -> None:
    target = Target("app/run.py", RISKY, frozenset({8}))
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([target])
    assert [(f.line, f.rule) for f in findings] == [(8, "bandit/B301")]


def test_nosec_and_test_files_are_respected() -> None:
    text = "import subprocess\nsubprocess.call('ls', shell=True)  # nosec B602\n"
    assert SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("a.py", text)]) == []
    test_text = 'def test_login(client):\n    password = "hunter22"\n    assert client.login(password)\n'
    assert SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("tests/test_a.py", test_text)]) == []


def test_assert_is_only_a_finding_when_it_guards_access() -> None:
    text = "def delete(actor, item):\n    assert isinstance(item, int)\n    assert actor.is_admin\n    item.delete()\n"
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("app/admin.py", text)])
    assert [(f.line, f.rule) for f in findings] == [(3, "bandit/B101")]


def test_password_finding_never_quotes_the_password() -> None:
    text = 'DB_PASSWORD = "Xk29vLq7Ze!81"\n'
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("app/db.py", text)])
    assert findings and findings[0].rule == "bandit/B105"
    assert all("Xk29vLq7Ze" not in f"{f.title}{f.message}{f.suggestion}" for f in findings)


def test_secrets_are_critical_and_the_value_never_appears() -> None:
    key, token = _fake_aws_key(), _fake_github_token()
    py = Target("app/storage.py", f'REGION = "eu"\nAWS_ACCESS_KEY_ID = "{key}"\n', frozenset({2}))
    js = Target("web/release.js", f'const auth = "{token}";\n', frozenset({1}))
    env = Target(".env", f"GITHUB_TOKEN={token}\n", frozenset())  # unchanged: nothing to say
    findings = SecurityAnalyzer().review([py, js, env])
    secrets = [f for f in findings if f.rule == "secret"]
    assert [(f.path, f.line, f.severity) for f in secrets] == [
        ("app/storage.py", 2, Severity.CRITICAL),
        ("web/release.js", 1, Severity.CRITICAL),
    ]
    assert secrets[0].title.startswith("hard-coded secret (")
    assert "`AWS_ACCESS_KEY_ID`" in secrets[0].message
    for f in findings:
        blob = f"{f.title} {f.message} {f.suggestion} {f.fingerprint}"
        assert key not in blob and token not in blob
        assert key[4:12] not in blob and token[4:12] not in blob


def test_non_python_files_get_secrets_and_patterns_only() -> None:
    js = Target.whole_file("web/run.js", "const out = eval(req.query.expr);\nexec(`convert ${file} out.png`);\n")
    sh = Target.whole_file("install.sh", "#!/bin/sh\ncurl -fsSL https://example.com/x.sh | sh\n")
    md = Target.whole_file("README.md", "curl -fsSL https://example.com/x.sh | sh\n")
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([js, sh, md])
    assert [(f.path, f.line, f.rule) for f in findings] == [
        ("web/run.js", 1, "js/eval"),
        ("web/run.js", 2, "js/command-injection"),
        ("install.sh", 2, "shell/pipe-to-shell"),
    ]


def test_a_failing_secret_scanner_is_a_notice() -> None:
    def boom(text: str) -> list[object]:
        raise RuntimeError("scanner bug")

    result = SecurityAnalyzer(find_secrets=boom).analyze([Target.whole_file("a.py", "x = 1\n")])
    assert result.notices == ["security: secret scan failed on a.py: RuntimeError"]


def test_syntax_errors_are_skipped_with_a_notice() -> None:
    result = SecurityAnalyzer(find_secrets=lambda _: []).analyze([Target.whole_file("bad.py", "def f(:\n")])
    assert result.findings == []
    assert len(result.notices) == 1
    assert result.notices[0].startswith("security: 1 Python file(s) not analysed (bandit, data flow): Python 3.")
    assert "(bad.py, line 1: " in result.notices[0]


@pytest.mark.parametrize(("mode", "flagged"), [("0o777", True), ("0o666", True), ("0o755", False), ("0o600", False)])
def test_chmod_is_a_finding_only_when_world_writable(mode: str, flagged: bool) -> None:
    text = f"import os\n\n\ndef publish(path):\n    os.chmod(path, {mode})\n"
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("app/files.py", text)])
    assert [f.rule for f in findings] == (["bandit/B103"] if flagged else [])


def test_an_empty_or_none_password_is_no_hard_coded_password() -> None:
    """bandit reports `"SECRET_KEY": None` (flask's default_config) and `password = ""` as B105."""
    text = (
        'DEFAULTS = dict(\n    DEBUG=None,\n    SECRET_KEY=None,\n)\nCONFIG = {\n    "SECRET_KEY": None,\n}\n'
        'password = ""\nSECRET_KEY = "dev"\n'
    )
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("app/settings.py", text)])
    assert [(f.line, f.rule) for f in findings] == [(9, "bandit/B105")]  # only the one that holds a value


def test_a_test_s_throwaway_app_is_no_web_finding_but_an_injection_still_is() -> None:
    """flask's tests define handlers returning a route parameter: XSS in production code, a fixture in a test."""
    text = (
        "import os\nimport flask\n\n\ndef test_static(client):\n    app = flask.Flask(__name__)\n\n"
        "    @app.route('/<path:path>')\n    def catch_all(path):\n        return path\n\n"
        "    @app.route('/go')\n    def go():\n        return flask.redirect(flask.request.args['next'])\n\n"
        "    @app.route('/run/<name>')\n    def run(name):\n        os.system('echo ' + name)\n        return ''\n"
    )
    analyzer = SecurityAnalyzer(find_secrets=lambda _: [])
    in_test = analyzer.review([Target.whole_file("tests/test_app.py", text)])
    assert [(f.line, f.rule) for f in in_test if f.rule.startswith("taint/")] == [(18, "taint/command-injection")]
    in_app = analyzer.review([Target.whole_file("app/views.py", text)])
    assert {f.rule for f in in_app} >= {"taint/xss", "taint/open-redirect", "taint/command-injection"}


def test_test_scaffolding_is_not_a_security_finding() -> None:
    text = (
        "import os\nimport pickle\n\n\ndef test_roundtrip(tmp_path):\n    assert pickle.loads(pickle.dumps(1)) == 1\n"
    )
    assert SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("tests/test_p.py", text)]) == []


def test_a_file_nested_too_deep_to_parse_gets_a_notice_and_the_others_are_still_checked() -> None:
    deep = Target.whole_file("gen/table.py", "x = " + "+".join(["1"] * 5000) + "\n")
    risky = Target.whole_file("app/run.py", RISKY)
    result = SecurityAnalyzer(find_secrets=lambda _: []).analyze([deep, risky])
    notices = [n for n in result.notices if "not analysed" in n]
    assert len(notices) == 1 and "gen/table.py, nested too deep for the parser" in notices[0]
    assert {f.path for f in result.findings} == {"app/run.py"}


def test_a_null_byte_is_named_in_the_notice_without_a_line() -> None:
    result = SecurityAnalyzer(find_secrets=lambda _: []).analyze([Target.whole_file("app/n.py", "x = 1\x00\n")])
    assert len(result.notices) == 1
    assert "(app/n.py, source code string cannot contain null bytes)" in result.notices[0]


def test_secret_matches_on_unchanged_lines_twice_on_a_line_or_heuristic_in_tests_are_skipped() -> None:
    text = 'A = "one"\nB = "two"  # and "three"\n'
    matches = [
        SecretMatch("aws-access-key", 4, 9, 1),
        SecretMatch("aws-access-key", 15, 20, 2),
        SecretMatch("github-token", 28, 35, 2),
    ]
    findings = SecurityAnalyzer(find_secrets=lambda _: matches).review([Target("app/k.py", text, frozenset({2}))])
    assert [(f.line, f.rule) for f in findings if f.rule == "secret"] == [(2, "secret")]
    heuristic = [SecretMatch("secret-assignment", 4, 9, 1)]
    in_test = SecurityAnalyzer(find_secrets=lambda _: heuristic).review([Target.whole_file("tests/test_k.py", text)])
    assert [f for f in in_test if f.rule == "secret"] == []


def test_a_password_line_the_secret_scan_found_is_reported_once_as_a_secret() -> None:
    text = 'DB_PASSWORD = "Xk29vLq7Ze!81"\n'
    found = [SecretMatch("secret-assignment", 15, 29, 1)]
    findings = SecurityAnalyzer(find_secrets=lambda _: found).review([Target.whole_file("app/db.py", text)])
    assert [(f.line, f.rule, f.severity) for f in findings] == [(1, "secret", Severity.CRITICAL)]


def test_sql_built_from_a_parameter_in_execute_is_high() -> None:
    text = "def find(cur, name):\n    cur.execute(\"SELECT * FROM t WHERE n = '%s'\" % name)\n"
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("app/q.py", text)])
    assert [(f.line, f.rule, f.severity) for f in findings] == [(2, "bandit/B608", Severity.HIGH)]


def test_a_bandit_check_we_have_no_advice_for_links_its_documentation() -> None:
    text = 'from pysnmp.hlapi import CommunityData\n\nauth = CommunityData("public", mpModel=0)\n'
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("app/snmp.py", text)])
    assert [(f.line, f.rule, f.suggestion) for f in findings] == [
        (3, "bandit/B508", "See bandit's documentation for B508 (snmp_insecure_version_check).")
    ]


def test_without_bandit_the_other_checks_run_and_a_notice_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bandit.core", None)  # `from bandit.core import ...` raises ImportError
    key = _fake_aws_key()
    target = Target.whole_file("app/run.py", RISKY + f'KEY = "{key}"\n')
    result = SecurityAnalyzer().analyze([target])
    assert result.notices == ["security: bandit is not installed (pip install bandit); Python checks skipped"]
    # the data-flow API checks stand in for bandit's B301/B324
    assert sorted((f.line, f.rule) for f in result.findings) == [
        (8, "taint/unsafe-deserialization"),
        (9, "taint/weak-hash"),
        (10, "secret"),
    ]


def test_files_bandit_cannot_scan_are_named_in_one_notice() -> None:
    text = '# -*- coding: ascii -*-\nimport subprocess\nx = "caf\u00e9"\nsubprocess.call(x, shell=True)\n'
    targets = [Target.whole_file("app/a.py", text), Target.whole_file("app/b.py", text)]
    result = SecurityAnalyzer(find_secrets=lambda _: []).analyze(targets)
    assert result.notices == ["security: bandit skipped 2 file(s): app/a.py (exception while scanning file) and 1 more"]


def test_a_data_flow_failure_is_a_notice_and_the_other_files_are_still_checked() -> None:
    chain = Target.whole_file("gen/t.py", "x = " + "+".join(["1"] * 1500) + "\n")
    result = SecurityAnalyzer(find_secrets=lambda _: []).analyze([chain, Target.whole_file("app/run.py", RISKY)])
    assert "security: data-flow check failed on gen/t.py: RecursionError" in result.notices
    assert {f.rule for f in result.findings} >= {"bandit/B602", "bandit/B301", "bandit/B324"}


def test_two_bandit_checks_of_one_call_are_one_finding() -> None:
    """bandit reports Django's mark_safe twice (B308 and B703): djangorestframework's template tags."""
    text = "from django.utils.safestring import mark_safe\n\n\ndef badge(label):\n    return mark_safe(label)\n"
    findings = SecurityAnalyzer(find_secrets=lambda _: []).review([Target.whole_file("app/tags.py", text)])
    assert [(f.line, f.title) for f in findings] == [(5, "mark_safe on dynamic content (XSS)")]
