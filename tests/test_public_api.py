from __future__ import annotations

import subprocess
import sys

import symphony_assist_hooks


def test_all_is_sorted_and_every_name_resolves() -> None:
    names = symphony_assist_hooks.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(symphony_assist_hooks, name) is not None


def test_importing_the_package_stays_on_the_standard_library() -> None:
    code = "import sys, symphony_assist_hooks; print(sorted(m for m in sys.modules if m.startswith('symphony')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['symphony_assist_hooks']"


def test_core_imports_no_adapter() -> None:
    """The assistant package imports none of click, pytest, git access, fastapi or our adapters."""
    code = (
        "import sys, symphony_assist_hooks.assistant as a; "
        "bad = [m for m in sys.modules if m in ('click', 'pytest', 'fastapi', 'uvicorn', 'git') "
        "or m.startswith(('symphony_assist_hooks.cli', 'symphony_assist_hooks.git.changes', 'symphony_assist_hooks.server', "
        "'symphony_assist_hooks.pytest_plugin', 'symphony_assist_hooks.precommit', 'symphony_assist_hooks.cli.commands'))]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
