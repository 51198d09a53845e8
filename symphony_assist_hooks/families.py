"""Rule ids → finding families, and failure categories → the explain frame's categories: one table each.

Shared vocabulary: `eval` scores by family, and the review merges a model finding into an analyzer finding
of the same family (review/merge.py), so it lives beside `findings.py`, not inside either.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

__all__ = ["ALIASES", "CATEGORIES", "FAMILIES", "FAMILY_NAMES", "category_of", "family_of"]

# Rule id → family: exact ids first (in any family), then the patterns (fnmatch, lower case) in table
# order, so a specific family listed early wins over a broad pattern later. Unknown rules are "other".
# Our own ids: bandit/Bxxx (security), ruff/XXXX and the checks (code_review), secret, the js/ and
# shell/ patterns; the model's ids are free kebab-case (the findings frame suggests sql-injection,
# shell-injection, unsafe-deserialization, weak-hash, hardcoded-credential, ...), hence the patterns.
FAMILIES: dict[str, tuple[str, ...]] = {
    "other": ("prompt-injection", "review"),
    "merge-conflict": ("conflict-marker", "merge-conflict", "*conflict-marker*", "unresolved-conflict"),
    "debug-leftover": ("debug-leftover", "debugger", "debug-print", "console-log", "*breakpoint*", "*leftover*"),
    "secrets": (
        "secret", "bandit/b105", "bandit/b106", "bandit/b107", "hardcoded-credential", "hardcoded-secret",
        "hardcoded-password", "hardcoded-*", "hard-coded-*", "*secret*", "*credential*", "*api-key*",
    ),
    "deserialization": (
        "bandit/b301", "bandit/b302", "bandit/b506", "bandit/b614", "bandit/b31[3-9]", "bandit/b320",
        "unsafe-deserialization", "*deserializ*", "*deserialis*", "*pickle*", "*yaml-load*", "*unsafe-yaml*",
        "xxe", "*xml-external*", "*xml-entit*", "taint/xxe",
    ),
    "crypto": (
        "taint/weak-hash", "taint/weak-random", "bandit/b303", "bandit/b304", "bandit/b305", "bandit/b324",
        "bandit/b311", "bandit/b413", "bandit/b505",
        "weak-hash", "weak-*", "*md5*", "*sha1*", "*crypto*", "*cipher*", "*random*", "*ecb*", "*key-size*",
    ),
    "tls": (
        "bandit/b312", "bandit/b321", "bandit/b323", "bandit/b50[1-4]", "bandit/b507", "js/tls-verify-disabled",
        "*tls*", "*ssl*", "*certificate*", "*cert-verif*", "*host-key*", "insecure-transport", "cleartext-*",
    ),
    "injection": (
        "bandit/b102", "bandit/b307", "bandit/b308", "bandit/b310", "bandit/b60[1-9]", "bandit/b61[0-3]",
        "bandit/b70[1-4]", "js/eval", "js/command-injection", "js/sql-injection", "js/xss", "shell/eval",
        "sql-injection", "shell-injection", "command-injection", "code-injection", "*injection*", "*xss*",
        "ssrf", "eval", "exec", "unsafe-eval", "eval-*", "*-eval", "*-exec", "*cross-site-scripting*",
    ),
    "filesystem": (
        "bandit/b103", "bandit/b108", "bandit/b202", "bandit/b306", "shell/world-writable", "path-traversal",
        "*traversal*", "zip-slip", "*tempfile*", "*temp-file*", "insecure-temp*", "*world-writable*",
        "*file-permission*", "*unsafe-extract*", "*archive-extract*",
    ),
    "supply-chain": (
        "shell/pipe-to-shell", "bandit/b615", "pipe-to-shell", "curl-pipe-*", "*unpinned*", "*supply-chain*",
        "*remote-script*", "*untrusted-download*",
    ),
    "insecure-default": (
        "taint/open-redirect", "taint/insecure-cookie", "taint/trust-boundary", "bandit/b101", "bandit/b104",
        "bandit/b113", "bandit/b201", "*open-redirect*", "*insecure-cookie*", "*trust-boundary*", "assert-*",
        "*debug-mode*", "debug-enabled",
        "*bind-all*", "*all-interfaces*", "*cors*", "*authoriz*", "*authentic*", "*access-control*",
        "missing-*check", "*privileged*", "insecure-default*", "*timeout*", "insecure-config*",
    ),
    "error-handling": (
        "swallowed-exception", "ruff/e722", "ruff/ble001", "ruff/s110", "ruff/s112", "ruff/b012",
        "error-handling", "bare-except", "*swallow*", "*exception*", "*error-handling*", "*ignored-error*",
        "empty-catch", "broad-except*", "*silent*",
    ),
    "resource-leak": ("resource-leak", "ruff/sim115", "*leak*", "unclosed-*", "*not-closed*", "*context-manager*"),
    "concurrency": (
        "race-condition", "ruff/ruf006", "ruff/async*", "*race*", "*concurren*", "*thread*", "*deadlock*",
        "*atomic*", "*dangling-task*",
    ),
    "maintainability": (
        "todo-no-owner", "commented-out-code", "long-function", "long-line", "ruff/f401", "ruff/f841",
        "ruff/f541", "ruff/f403", "ruff/f405", "*todo*", "*commented*", "*complex*", "*naming*", "*style*",
        "*duplicat*", "dead-code", "unused-*",
    ),
    "logic": (
        "logic-error", "off-by-one", "null-dereference", "mutable-default", "ruff/b006", "ruff/f821",
        "ruff/syntax-error", "ruff/b0*", "ruff/f*", "ruff/ple*", "ruff/plw*", "ruff/plr*", "ruff/ruf*",
        "ruff/pie*", "*logic*", "*off-by-one*", "*null*", "*none*", "*undefined*", "*wrong-*", "*inverted*",
        "*typo*", "incorrect-*", "*comparison*", "*bug*", "*unreachable*", "*mutable-default*", "*boundary*",
    ),
}  # fmt: skip
FAMILY_NAMES = tuple(sorted(FAMILIES))
_EXACT = {p: family for family, patterns in FAMILIES.items() for p in patterns if not any(c in p for c in "*?[")}


def family_of(rule: str) -> str:
    """The family of a rule id (case-insensitive): exact ids first, then patterns in table order."""
    key = rule.strip().lower()
    if key in _EXACT:
        return _EXACT[key]
    for family, patterns in FAMILIES.items():
        if any(fnmatchcase(key, p) for p in patterns):
            return family
    return "other"


# The explain frame's categories (templates/_explain.md.j2), with the local classifier's finer ones
# (analyzers.testing.CATEGORIES) folded in: either vocabulary can answer and be compared.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "assertion-mismatch": ("assertion-mismatch", "mock-call-mismatch", "did-not-raise", "assertion-error"),
    "float-comparison": ("float-comparison",),
    "flaky": ("flaky",),
    "import-error": ("import-error", "module-not-found"),
    "collection-error": ("collection-error", "syntax-error"),
    "fixture-error": ("fixture-error", "fixture-not-found", "setup-error", "teardown-error"),
    "timeout": ("timeout",),
    "none-attribute": ("none-attribute", "attribute-error-on-none", "type-error-on-none"),
    "attribute-error": ("attribute-error",),
    "type-error": ("type-error",),
    "key-error": ("key-error",),
    "index-error": ("index-error",),
    "value-error": ("value-error",),
    "io-error": ("io-error", "file-not-found", "permission-error", "os-error"),
    "network-error": ("network-error", "connection-error"),
    "other": ("other", "exception", "zero-division", "recursion"),
}
ALIASES = {alias: name for name, aliases in CATEGORIES.items() for alias in aliases}


def category_of(answer: str) -> str:
    """A failure category in the explain frame's vocabulary ("other" when unknown)."""
    return ALIASES.get(answer.strip().lower(), "other")
