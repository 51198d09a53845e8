"""The `security` analyzer: bandit on changed Python files, secrets everywhere, a few rules for JS and shell.

bandit runs in-process on temporary copies (its public `BanditManager.discover_files` / `run_tests`): about
4 ms for five files once its ~90 ms import is paid, and the import happens only when a Python file changed.
Its noisiest checks (every `import subprocess`, every `assert`) are dropped or narrowed to the cases that
matter; messages are our own, because bandit's B105-B107 texts quote the password itself.

`taint.py` follows the data in each changed file (request data, `input()`, `sys.argv`, the environment and
`random` values into command, SQL, code, path, XSS, XPath, LDAP, redirect, session and cookie sinks) and adds
its findings. Bandit's findings are removed only with evidence from that analysis: every value at the flagged
line is a provable constant (`os.system("ls " + ["a", x][0])`, an f-string without placeholders), or the
finding is a SAX/pulldom parser and nothing in the file turns external entities on (off by default). A file
the running Python cannot parse (3.12 f-string syntax under 3.11) is counted in one notice per run.
"""

from __future__ import annotations

import ast
import logging
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..findings import Finding, Severity
from ..scan.redact import find_secrets, reportable
from .common import Analysis, Target, enclosing_functions, is_test_path, make_finding

if TYPE_CHECKING:
    from .taint import TaintResult

__all__ = ["SecurityAnalyzer"]

NAME = "security"

# id → (title, suggestion). Titles are what a reviewer would say; bandit's own text is kept out of messages.
_BANDIT: dict[str, tuple[str, str]] = {
    "B101": (
        "assert used for an access check",
        "Raise an explicit error (e.g. PermissionError): `python -O` strips asserts.",
    ),
    "B102": ("use of exec", "Avoid exec on anything derived from input; dispatch through a dict of functions instead."),
    "B103": ("file made world-writable", "Use the narrowest mode that works, e.g. 0o600 for files, 0o700 for dirs."),
    "B104": ("server binds to all interfaces", "Bind to 127.0.0.1 unless the service must be reachable from outside."),
    "B105": ("hard-coded password", "Load the password from the environment or a secret manager."),
    "B106": ("hard-coded password argument", "Pass a password loaded from the environment or a secret manager."),
    "B107": ("hard-coded password default", "Default to None and load the password from the environment."),
    "B108": ("predictable temporary path", "Use tempfile.mkstemp()/TemporaryDirectory() instead of a fixed /tmp path."),
    "B113": ("HTTP request without a timeout", "Pass timeout=... so a hung server cannot hang the caller forever."),
    "B201": ("Flask app runs with debug=True", "Never enable the Werkzeug debugger outside local development."),
    "B202": ("tarfile.extractall without member checks", "Pass filter='data' (3.12+) or validate member paths."),
    "B301": (
        "unsafe deserialisation (pickle)",
        "Never unpickle untrusted data; use json or a schema-validated format.",
    ),
    "B302": ("unsafe deserialisation (marshal)", "Use json or another data-only format for untrusted input."),
    "B303": ("weak hash (MD5/SHA1)", "Use hashlib.sha256, or bcrypt/argon2/scrypt for passwords."),
    "B304": ("insecure cipher", "Use AES-GCM or ChaCha20-Poly1305 from `cryptography`."),
    "B305": ("insecure cipher mode (ECB)", "Use an authenticated mode such as GCM."),
    "B306": (
        "insecure temporary file (tempfile.mktemp)",
        "Use tempfile.mkstemp() or NamedTemporaryFile(): mktemp races.",
    ),
    "B307": ("use of eval", "Use ast.literal_eval for literals, or parse the input explicitly."),
    "B308": ("mark_safe on dynamic content (XSS)", "Escape the content (format_html) instead of marking it safe."),
    "B310": ("urlopen on an unchecked URL scheme", "Allow only http/https schemes before opening the URL."),
    "B311": ("non-cryptographic random number", "If the value is a secret, token or key, use the `secrets` module."),
    "B312": ("telnet use", "Use SSH instead of telnet."),
    "B321": ("FTP use", "Use SFTP/FTPS instead of plain FTP."),
    "B323": ("TLS certificate checks disabled", "Use ssl.create_default_context()."),
    "B324": ("weak hash (MD5/SHA1) for security", "Use hashlib.sha256, or bcrypt/argon2/scrypt for passwords."),
    "B501": ("TLS certificate verification disabled", "Remove verify=False; point verify= at a CA bundle if needed."),
    "B502": ("insecure SSL/TLS protocol version", "Use ssl.PROTOCOL_TLS_CLIENT with a minimum of TLS 1.2."),
    "B503": ("insecure SSL/TLS protocol default", "Use ssl.PROTOCOL_TLS_CLIENT with a minimum of TLS 1.2."),
    "B504": ("SSL/TLS without a protocol version", "Use ssl.create_default_context()."),
    "B505": ("weak cryptographic key", "Use at least 2048-bit RSA/DSA or 224-bit EC keys."),
    "B506": ("yaml.load without SafeLoader", "Use yaml.safe_load(), or Loader=yaml.SafeLoader."),
    "B507": ("SSH host key not verified", "Load known hosts and use RejectPolicy instead of AutoAddPolicy."),
    "B601": ("shell command through paramiko", "Quote every argument with shlex.quote, or avoid the shell."),
    "B602": ("subprocess call with shell=True", "Pass an argument list without shell=True (shlex.split if needed)."),
    "B604": ("function call with shell=True", "Pass an argument list without shell=True."),
    "B605": ("process started through a shell (os.system/os.popen)", "Use subprocess.run([...]) with a list."),
    "B608": ("SQL built from strings (possible injection)", "Use parameters: cursor.execute(sql, (value,))."),
    "B609": ("wildcard in a shell command", "Expand the paths in Python (glob) and pass them as a list."),
    "B610": ("Django extra() with raw SQL", "Use the ORM or parameters instead of extra()."),
    "B611": ("Django RawSQL built from strings", "Pass the values as RawSQL params."),
    "B612": ("logging.config.listen accepts code", "Do not expose logging.config.listen on an untrusted port."),
    "B613": ("bidirectional control characters (trojan source)", "Remove the bidi control characters."),
    "B614": ("torch.load without weights_only=True", "Pass weights_only=True or use safetensors."),
    "B615": ("model download without a pinned revision", "Pin revision= to a commit hash."),
    "B701": ("jinja2 autoescape disabled", "Use autoescape=True or select_autoescape()."),
    "B702": ("Mako templates without escaping", "Use default_filters=['h'] or another escaping filter."),
    "B703": ("mark_safe on dynamic content (XSS)", "Escape the content (format_html) instead of marking it safe."),
    "B704": ("markupsafe.Markup on dynamic content (XSS)", "Escape the content before wrapping it in Markup."),
}
for _id in ("B313", "B314", "B315", "B316", "B317", "B318", "B319", "B320"):
    _BANDIT[_id] = ("XML parser open to entity attacks (XXE)", "Use defusedxml instead of the stdlib XML parsers.")

# Checks that fire on nearly every file (imports, plain subprocess lists) or that code_review owns.
_DROPPED = {"B110", "B112", "B404", "B603", "B606", "B607"}
# Tests pickle their own data, bind test servers, chmod scratch files and call local URLs on purpose.
_DROPPED_IN_TESTS = {"B101", "B103", "B104", "B105", "B106", "B107", "B108", "B113", "B301", "B310", "B311"}
_MODE = re.compile(r"\b0o?([0-7]{3,4})\b")
_PASSWORD_RULES = {"B105", "B106", "B107"}
# bandit's text for them: "Possible hardcoded password: '<value>'"; None and "" hold no password (flask's
# default_config has "SECRET_KEY": None, which bandit reports)
_NO_PASSWORD = re.compile(r"hardcoded password: '(?:None)?'$")
_AUTH_WORDS = re.compile(
    r"auth|admin|permi|role|is_staff|superuser|logged|owner|privileg|can_|allowed|token|csrf", re.I
)
_RANK = {"LOW": 0, "MEDIUM": 1, "HIGH": 2}
_SEVERITY = {  # (bandit severity, confidence) → ours
    (2, 2): Severity.HIGH,
    (2, 1): Severity.MEDIUM,
    (2, 0): Severity.LOW,
    (1, 2): Severity.MEDIUM,
    (1, 1): Severity.MEDIUM,
    (1, 0): Severity.LOW,
    (0, 2): Severity.LOW,
    (0, 1): Severity.LOW,
    (0, 0): Severity.INFO,
}
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


@dataclass(frozen=True)
class _Pattern:
    rule: str
    title: str
    severity: Severity
    languages: frozenset[str]
    regex: re.Pattern[str]
    suggestion: str


_JS = frozenset({"javascript", "typescript"})
_SHELLISH = frozenset({"shell", "dockerfile", "make", "yaml"})
_PATTERNS = (
    _Pattern(
        "js/eval",
        "eval of dynamic code",
        Severity.HIGH,
        _JS,
        re.compile(r"(?<![\w.])(eval\s*\(|new\s+Function\s*\()"),
        "Parse the data (JSON.parse) or dispatch through a lookup table instead of evaluating code.",
    ),
    _Pattern(
        "js/command-injection",
        "shell command built from a template or concatenation",
        Severity.HIGH,
        _JS,
        re.compile(r"\bexec(?:Sync)?\s*\(\s*(`[^`]*\$\{|[\"'][^\"']*[\"']\s*\+)|\bshell\s*:\s*true"),
        "Use execFile/spawn with an argument array (no shell) so input cannot add commands.",
    ),
    _Pattern(
        "js/sql-injection",
        "SQL built from a template string",
        Severity.HIGH,
        _JS,
        re.compile(r"\.(query|execute|raw)\s*\(\s*`[^`]*\b(SELECT|INSERT|UPDATE|DELETE)\b[^`]*\$\{", re.I),
        "Use placeholders: db.query('... WHERE id = $1', [id]).",
    ),
    _Pattern(
        "js/xss",
        "HTML injected from a variable",
        Severity.MEDIUM,
        _JS,
        re.compile(r"\.(innerHTML|outerHTML)\s*=\s*(?![\"'`][^$]*[\"'`]\s*;?\s*$)|dangerouslySetInnerHTML"),
        "Set textContent, or sanitise the HTML (DOMPurify) before inserting it.",
    ),
    _Pattern(
        "js/tls-verify-disabled",
        "TLS certificate verification disabled",
        Severity.HIGH,
        _JS,
        re.compile(r"rejectUnauthorized\s*:\s*false|NODE_TLS_REJECT_UNAUTHORIZED\s*=\s*[\"']?0"),
        "Keep certificate checks on; add the CA with the `ca` option instead.",
    ),
    _Pattern(
        "shell/pipe-to-shell",
        "remote script piped into a shell",
        Severity.HIGH,
        _SHELLISH,
        re.compile(r"\b(curl|wget)\b[^|\n]*\|\s*(sudo\s+)?(ba|z|k|da)?sh\b"),
        "Download to a file, verify its checksum or signature, then run it.",
    ),
    _Pattern(
        "shell/world-writable",
        "file made world-writable",
        Severity.MEDIUM,
        _SHELLISH,
        re.compile(r"\bchmod\s+(-R\s+)?0?777\b"),
        "Grant only what is needed (e.g. 755 for dirs, 644 for files).",
    ),
    _Pattern(
        "shell/eval",
        "eval of a variable in shell",
        Severity.MEDIUM,
        frozenset({"shell"}),
        re.compile(r"^\s*eval\s+[\"']?\$"),
        "Avoid eval; call the command directly with quoted arguments.",
    ),
)
_COMMENT = re.compile(r"^\s*(//|#|\*|/\*)")


class SecurityAnalyzer:
    """bandit + secrets + a few language-independent patterns, on changed lines only."""

    name = NAME

    def __init__(self, find_secrets: Callable[[str], Sequence[Any]] | None = None) -> None:
        self._find_secrets = find_secrets

    def review(self, targets: Sequence[Target]) -> list[Finding]:
        return self.analyze(targets).findings

    def analyze(self, targets: Sequence[Target]) -> Analysis:
        result = Analysis()
        targets = [t for t in targets if t.changed_lines]
        secret_lines = self._secrets(targets, result)
        python = [t for t in targets if t.language == "python"]
        if python:
            parsed, unparsable = _parse(python)
            if unparsable:
                result.notices.append(_unparsable_notice(unparsable))
            if parsed:
                evidence = _dataflow(parsed, result)
                self._bandit([t for t, _ in parsed], secret_lines, result, evidence)
                result.findings = _prefer_bandit(result.findings)
        for target in targets:
            self._patterns(target, result)
        return result

    # -- secrets ---------------------------------------------------------------------------------------
    def _secrets(self, targets: Sequence[Target], result: Analysis) -> set[tuple[str, int]]:
        finder = self._find_secrets or find_secrets
        seen: set[tuple[str, int]] = set()
        for target in targets:
            try:
                matches = finder(target.text)
            except Exception as exc:  # a detector bug must not hide bandit's findings
                result.notices.append(f"security: secret scan failed on {target.path}: {type(exc).__name__}")
                continue
            for match in matches:
                line = int(match.line)
                if line not in target.changed_lines or (target.path, line) in seen:
                    continue
                if not reportable(str(match.kind), target.path):
                    continue  # a keyword assignment in a test is a fixture; a vendor token in a test is still real
                seen.add((target.path, line))
                finding = make_finding(
                    target,
                    line,
                    rule="secret",
                    title=f"hard-coded secret ({str(match.kind).replace('-', ' ')})",
                    severity=Severity.CRITICAL,
                    template=NAME,
                    message=_secret_message(target, line, int(match.start), str(match.kind).replace("-", " ")),
                    suggestion="Remove it, rotate the credential (it is already on disk and may be in history), "
                    "and read it at run time from an environment variable or a secret manager.",
                )
                if finding:
                    result.findings.append(finding)
        return seen

    # -- bandit ----------------------------------------------------------------------------------------
    def _bandit(
        self,
        targets: Sequence[Target],
        secret_lines: set[tuple[str, int]],
        result: Analysis,
        evidence: Mapping[str, TaintResult] | None = None,
    ) -> None:
        try:
            with warnings.catch_warnings():  # stevedore, loading bandit's plugins, warns about its own API
                warnings.simplefilter("ignore", DeprecationWarning)
                from bandit.core import config as b_config
                from bandit.core import manager as b_manager
        except ImportError:
            result.notices.append("security: bandit is not installed (pip install bandit); Python checks skipped")
            return
        logging.getLogger("bandit").setLevel(logging.CRITICAL)  # it logs a warning per file outside a package
        with tempfile.TemporaryDirectory(prefix="symphony-bandit-") as tmp:
            by_file: dict[str, Target] = {}
            for index, target in enumerate(targets):
                copy = Path(tmp, str(index), Path(target.path).name)
                copy.parent.mkdir(parents=True)
                copy.write_text(target.text, encoding="utf-8")
                by_file[str(copy)] = target
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                manager = b_manager.BanditManager(b_config.BanditConfig(), "file")
            manager.discover_files(list(by_file))
            manager.run_tests()
            skipped = [f"{by_file[str(fname)].path} ({reason})" for fname, reason in manager.skipped]
            if skipped:
                more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
                result.notices.append(f"security: bandit skipped {len(skipped)} file(s): {skipped[0]}{more}")
            issues = list(manager.get_issue_list())
        owners: dict[str, dict[int, str]] = {}
        taken = {(f.path, f.line, f.rule) for f in result.findings}
        said: set[tuple[str, int, str]] = set()
        for issue in issues:
            target = by_file[str(issue.fname)]
            if target.path not in owners:
                owners[target.path] = _owners(target.text)
            flow = (evidence or {}).get(target.path)
            if flow is not None and _disproved(issue, flow, target, taken):
                continue
            finding = _bandit_finding(issue, target, owners[target.path], secret_lines)
            if finding and (finding.path, finding.line, finding.title) not in said:
                said.add((finding.path, finding.line, finding.title))  # B308 and B703 are one mark_safe
                result.findings.append(finding)

    # -- patterns --------------------------------------------------------------------------------------
    def _patterns(self, target: Target, result: Analysis) -> None:
        patterns = [p for p in _PATTERNS if target.language in p.languages]
        for number in sorted(target.changed_lines):
            text = target.line(number)
            if not text or (_COMMENT.match(text) and target.language in _JS):
                continue
            for pattern in patterns:
                if pattern.regex.search(text):
                    finding = make_finding(
                        target,
                        number,
                        rule=pattern.rule,
                        title=pattern.title,
                        severity=pattern.severity,
                        template=NAME,
                        message=f"{pattern.title} in {target.path}:{number}.",
                        suggestion=pattern.suggestion,
                    )
                    if finding:
                        result.findings.append(finding)


def _owners(text: str) -> dict[int, str]:
    try:
        return enclosing_functions(ast.parse(text))
    except (SyntaxError, ValueError):
        return {}


def _secret_message(target: Target, line: int, start: int, kind: str) -> str:
    offset = sum(len(x) + 1 for x in target.lines[: line - 1])
    before = target.line(line)[: max(0, start - offset)]
    name = re.search(r"([A-Za-z_][\w.-]*)[\"']?\s*[:=]{1,2}\s*[\"'`]?\s*$", before)
    where = f" assigned to `{name.group(1)}`" if name else ""
    return (
        f"A {kind}{where} is written into {target.path} at line {line}; anyone who can read the repository can use it."
    )


def _bandit_finding(
    issue: Any, target: Target, owners: dict[int, str], secret_lines: set[tuple[str, int]]
) -> Finding | None:
    test_id = str(issue.test_id)
    lines = [int(n) for n in (issue.linerange or [issue.lineno])]
    start, end = min(lines), max(lines)
    code = target.line(int(issue.lineno))
    in_test = is_test_path(target.path)
    if test_id in _DROPPED or (in_test and test_id in _DROPPED_IN_TESTS):
        return None
    if test_id.startswith("B4") and test_id != "B413":
        return None  # "consider the implications of importing X": the call checks (B3xx) flag the real use
    if test_id in _PASSWORD_RULES and any((target.path, n) in secret_lines for n in range(start, end + 1)):
        return None  # the secret finding (critical) already covers this line
    if test_id in _PASSWORD_RULES and _NO_PASSWORD.search(str(issue.text)):
        return None
    if test_id == "B103" and not any(int(m, 8) & 0o002 for m in _MODE.findall(code)):
        return None  # 0o755 on a script is normal; only world-writable modes are a finding
    if test_id == "B101" and not _AUTH_WORDS.search(code):
        return None  # an invariant assert is fine; one that guards access is not
    owner = owners.get(int(issue.lineno))
    severity = _SEVERITY[(_RANK.get(str(issue.severity), 0), _RANK.get(str(issue.confidence), 0))]
    if test_id in _PASSWORD_RULES | {"B101"}:
        severity = Severity.MEDIUM
    elif test_id == "B311":
        severity = Severity.LOW  # the data-flow finding (MEDIUM) says when the value becomes a secret
    elif test_id == "B608" and re.search(r"\.(execute|executemany|raw|executescript)\s*\(", code):
        severity = Severity.HIGH
    title, suggestion = _BANDIT.get(test_id, (str(issue.test).replace("_", " "), ""))
    where = f" in `{owner}`" if owner else ""
    detail = "" if test_id in _PASSWORD_RULES else " " + _QUOTED.sub("'…'", str(issue.text)).rstrip(".") + "."
    message = (
        f"{title}{where} ({target.path}:{issue.lineno}).{detail} bandit {test_id}, "
        f"severity {str(issue.severity).lower()}, confidence {str(issue.confidence).lower()}."
    )
    if not suggestion:
        suggestion = f"See bandit's documentation for {test_id} ({issue.test})."
    return make_finding(
        target,
        start,
        end_line=end,
        rule=f"bandit/{test_id}",
        title=title,
        severity=severity,
        template=NAME,
        message=message,
        suggestion=suggestion,
    )


# bandit checks about a value that the data-flow analysis can prove constant, by category (for de-duplication).
_DATA_CHECKS = {"B102", "B301", "B302", "B307", "B308", "B602", "B604", "B605", "B608", "B609", "B703", "B704"}
_SAME_AS_TAINT: dict[str, frozenset[str]] = {
    "cmdi": frozenset({"B601", "B602", "B604", "B605", "B609"}),
    "sqli": frozenset({"B608", "B610", "B611"}),
    "codei": frozenset({"B102", "B307"}),
    "xss": frozenset({"B308", "B703", "B704"}),
    "deserialization": frozenset({"B301", "B302", "B506"}),
    "hash": frozenset({"B303", "B324"}),
}
_TAINT_WINS = {"cmdi", "sqli", "codei", "xss"}  # the data-flow finding says more (where the data came from)
# In a test file: the app is a throwaway fixture (what it serves, redirects to or keeps in a session harms
# nobody: flask's own tests hold 11 such handlers), fixtures are unpickled, test clients get plain cookies,
# random is seeded.
_API_IN_TESTS = {"xss", "redirect", "trustbound", "securecookie", "deserialization", "weakrand"}
_SAX = {"B317", "B319"}  # xml.sax / xml.dom.pulldom: external entities are off unless a feature turns them on
_SEVERITY_OF = {
    "cmdi": Severity.HIGH,
    "sqli": Severity.HIGH,
    "codei": Severity.HIGH,
    "deserialization": Severity.HIGH,
    "xxe": Severity.HIGH,
    "securecookie": Severity.LOW,
}


def _parse(targets: Sequence[Target]) -> tuple[list[tuple[Target, ast.Module]], list[tuple[Target, str]]]:
    parsed: list[tuple[Target, ast.Module]] = []
    failed: list[tuple[Target, str]] = []
    for target in targets:
        try:
            parsed.append((target, ast.parse(target.text)))
        except SyntaxError as exc:  # lineno is None for a null byte
            failed.append((target, f"line {exc.lineno}: {exc.msg}" if exc.lineno else exc.msg))
        except ValueError as exc:
            failed.append((target, str(exc)))
        except RecursionError:
            failed.append((target, "nested too deep for the parser"))
    return parsed, failed


def _unparsable_notice(failed: Sequence[tuple[Target, str]]) -> str:
    import sys

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    first, why = failed[0]
    more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
    return (
        f"security: {len(failed)} Python file(s) not analysed (bandit, data flow): Python {version} cannot parse "
        f"them — newer syntax such as 3.12 f-strings, or a syntax error ({first.path}, {why}{more}); "
        "ruff's findings still cover them"
    )


def _dataflow(parsed: Sequence[tuple[Target, ast.Module]], result: Analysis) -> dict[str, TaintResult]:
    # deferred: the hit path guard (tests/test_hot_paths.py) keeps taint.py, ~1.2k lines, off a cached review
    from .taint import CATEGORIES, analyze_tree

    out: dict[str, TaintResult] = {}
    for target, tree in parsed:
        try:
            flow = analyze_tree(tree)
        except Exception as exc:  # a bug in the analysis must not hide bandit's findings
            result.notices.append(f"security: data-flow check failed on {target.path}: {type(exc).__name__}")
            continue
        out[target.path] = flow
        owners: dict[int, str] | None = None
        in_test = is_test_path(target.path)
        for hit in flow.hits:
            if in_test and hit.category in _API_IN_TESTS:
                continue  # see _API_IN_TESTS
            if owners is None:
                owners = enclosing_functions(tree)
            rule, title, suggestion = CATEGORIES[hit.category]
            owner = owners.get(hit.line)
            where = f" in `{owner}`" if owner else ""
            origin = f"data from line {hit.origin} reaches " if hit.origin else ""
            finding = make_finding(
                target,
                hit.line,
                end_line=hit.end_line,
                rule=rule,
                title=title,
                severity=_SEVERITY_OF.get(hit.category, Severity.MEDIUM),
                template=NAME,
                message=f"{title}{where} ({target.path}:{hit.line}): {origin}{hit.sink}.",
                suggestion=suggestion,
            )
            if finding:
                result.findings.append(finding)
    return out


def _disproved(issue: Any, flow: TaintResult, target: Target, taken: set[tuple[str, int, str]]) -> bool:
    """True when the data-flow analysis shows bandit's finding is a false positive or a duplicate."""
    from .taint import CATEGORIES  # deferred: see _dataflow

    test_id = str(issue.test_id)
    lines = [int(n) for n in (issue.linerange or [issue.lineno])]
    if test_id in _SAX and not flow.external_entities:
        return True
    if test_id == "B320" and any(n in flow.safe_xml_lines for n in lines):
        return True  # lxml with a parser built with resolve_entities=False
    if test_id in _DATA_CHECKS:
        category = next(c for c, ids in _SAME_AS_TAINT.items() if test_id in ids)
        span = range(min(lines), max(lines) + 1)
        recorded = [flow.line_proven[n] for n in span if n in flow.line_proven]
        if recorded and all(category in proven for proven in recorded):
            return True  # every value there is a constant, or went through a sanitiser for this category
    for category, ids in _SAME_AS_TAINT.items():
        if test_id in ids and category in _TAINT_WINS:
            rule = CATEGORIES[category][0]
            if any((target.path, n, rule) in taken for n in lines) or any(
                h.category == category and h.line in lines for h in flow.hits if h.line in target.changed_lines
            ):
                return True
    return False


def _prefer_bandit(findings: list[Finding]) -> list[Finding]:
    """Drop an API-use data-flow finding (deserialisation, weak hash) where bandit reports the same line."""
    from .taint import CATEGORIES  # deferred: see _dataflow

    rule_category = {CATEGORIES[c][0]: c for c in _SAME_AS_TAINT if c not in _TAINT_WINS}
    bandit = {
        (f.path, f.line, category)
        for f in findings
        if f.rule.startswith("bandit/")
        for category, ids in _SAME_AS_TAINT.items()
        if f.rule.split("/", 1)[1] in ids
    }
    return [f for f in findings if not (f.rule in rule_category and (f.path, f.line, rule_category[f.rule]) in bandit)]
