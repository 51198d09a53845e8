"""Import errors (missing dependency → `pip install <dist>`, a wrong module path in the project, a circular
import, a name a module does not define) and the read-only project lookups that suggest close names.
"""

from __future__ import annotations

import ast
import difflib
import re
from pathlib import Path

from .context import Context, Verdict

__all__ = [
    "DISTRIBUTIONS",
    "FIXTURE_SYNONYMS",
    "PLUGIN_FIXTURES",
    "close_names",
    "did_you_mean",
    "import_error",
    "module_file",
    "module_names",
    "source_names",
]

DISTRIBUTIONS = {
    "yaml": "PyYAML",
    "cv2": "opencv-python",
    "PIL": "Pillow",
    "sklearn": "scikit-learn",
    "bs4": "beautifulsoup4",
    "skimage": "scikit-image",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "jwt": "PyJWT",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "OpenSSL": "pyOpenSSL",
    "serial": "pyserial",
    "usb": "pyusb",
    "magic": "python-magic",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "git": "GitPython",
    "attr": "attrs",
    "google.protobuf": "protobuf",
    "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary",
    "zmq": "pyzmq",
    "gi": "PyGObject",
    "win32api": "pywin32",
    "win32con": "pywin32",
    "fitz": "PyMuPDF",
    "Levenshtein": "python-Levenshtein",
    "slugify": "python-slugify",
    "telegram": "python-telegram-bot",
    "multipart": "python-multipart",
    "jose": "python-jose",
    "ldap": "python-ldap",
    "pkg_resources": "setuptools",
    "mpl_toolkits": "matplotlib",
    "faiss": "faiss-cpu",
    "umap": "umap-learn",
    "websocket": "websocket-client",
    "kafka": "kafka-python",
    "snappy": "python-snappy",
    "Bio": "biopython",
    "nacl": "PyNaCl",
    "markdown": "Markdown",
    "ruamel": "ruamel.yaml",
    "lxml": "lxml",
    "jinja2": "Jinja2",
    "sqlalchemy": "SQLAlchemy",
    "flask": "Flask",
    "memcache": "python-memcached",
    "dns": "dnspython",
    "consul": "python-consul",
    "xdist": "pytest-xdist",
    "pytest_mock": "pytest-mock",
    "freezegun": "freezegun",
    "googleapiclient": "google-api-python-client",
    "tls_client": "tls-client",
    "speech_recognition": "SpeechRecognition",
    "sentence_transformers": "sentence-transformers",
    "docopt": "docopt",
    "typing_extensions": "typing-extensions",
    "toml": "toml",
}
PLUGIN_FIXTURES = {
    "mocker": "pytest-mock",
    "class_mocker": "pytest-mock",
    "benchmark": "pytest-benchmark",
    "httpx_mock": "pytest-httpx",
    "requests_mock": "requests-mock",
    "freezer": "pytest-freezer",
    "event_loop": "pytest-asyncio",
    "aioresponses": "aioresponses",
    "respx_mock": "respx",
    "snapshot": "syrupy",
    "faker": "Faker",
    "settings": "pytest-django",
    "rf": "pytest-django",
    "client": "pytest-django or pytest-flask",
    "admin_client": "pytest-django",
    "live_server": "pytest-django",
    "db": "pytest-django",
    "httpserver": "pytest-httpserver",
    "celery_app": "celery[pytest]",
    "loop": "pytest-aiohttp",
    "aiohttp_client": "pytest-aiohttp",
    "datadir": "pytest-datadir",
    "shared_datadir": "pytest-datadir",
    "qtbot": "pytest-qt",
    "xprocess": "pytest-xprocess",
    "docker_services": "pytest-docker",
    "postgresql": "pytest-postgresql",
    "redisdb": "pytest-redis",
    "fs": "pyfakefs",
    "responses": "responses",
    "time_machine": "time-machine",
    "subtests": "pytest-subtests",
    "anyio_backend": "anyio",
}
FIXTURE_SYNONYMS = {
    "temp_dir": "tmp_path",
    "tempdir": "tmp_path",
    "tmp_dir": "tmp_path",
    "temp_path": "tmp_path",
    "capture": "capsys",
    "caplogger": "caplog",
    "monkey_patch": "monkeypatch",
    "mock": "monkeypatch",
}


def module_names(root: Path, dotted: str) -> list[str] | None:
    """The submodule names of a project package (None when it is not under `root` or `root/src`)."""
    for base in (root, root / "src"):
        folder = base.joinpath(*dotted.split("."))
        if folder.is_dir():
            return sorted(
                p.stem if p.suffix == ".py" else p.name
                for p in folder.iterdir()
                if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
            )
    return None


def source_names(path: Path, cls: str | None = None) -> list[str]:
    """Top-level names defined in a Python file (or the members of class `cls` in it)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return []
    body: list[ast.stmt] = tree.body
    if cls:
        found = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
        if not found:
            return []
        body = found[0].body
    names: list[str] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
    return names


def module_file(root: Path, dotted: str) -> Path | None:
    for base in (root, root / "src"):
        stem = base.joinpath(*dotted.split("."))
        for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def close_names(word: str, options: list[str]) -> list[str]:
    return difflib.get_close_matches(word, options, n=3, cutoff=0.6)


def did_you_mean(options: list[str]) -> str:
    return f" Did you mean {' or '.join(f'`{o}`' for o in options)}?" if options else ""


_NO_MODULE = re.compile(r"No module named '(?P<name>[^']+)'")
_CANNOT = re.compile(r"cannot import name '(?P<name>[^']+)' from '(?P<module>[^']+)'(?: \((?P<path>[^)]+)\))?")
_CIRCULAR = re.compile(r"partially initialized module '(?P<module>[^']+)'")


def import_error(ctx: Context) -> Verdict | None:
    text = ctx.message if ctx.short in {"ImportError", "ModuleNotFoundError"} else ""
    if not text:
        errors = "\n".join(ctx.parsed.errors)
        if not re.search(r"ModuleNotFoundError|ImportError", errors):
            return None
        text = errors
    frame = ctx.inner
    where = f" at {ctx.at(frame)}{ctx.line_of(frame)}"
    if m := _CIRCULAR.search(text):
        module = m.group("module")
        cannot = _CANNOT.search(text)
        importer = ctx.rel(frame.path) if frame else "another module"
        what = f"`{cannot.group('name')}` from " if cannot else ""
        return Verdict(
            "import-error",
            f"Circular import: `{ctx.test}` imports `{module}`, which (through {importer}) imports {what}"
            f"`{module}` again before it has finished loading{where}.",
            f"Break the cycle: in {importer} import the module instead of the name (`import {module}`) and use it "
            "inside functions, move the import into the function that needs it, or move the shared code into a "
            "third module; an import needed only for type hints goes under `if TYPE_CHECKING:`.",
        )
    if m := _CANNOT.search(text):
        name, module, path = m.group("name"), m.group("module"), m.group("path")
        names = source_names(Path(path)) if path else []
        if not names and (found := module_file(ctx.root, module)):
            names = source_names(found)
        hint = did_you_mean(close_names(name, names))
        return Verdict(
            "import-error",
            f"`{ctx.test}` imports `{name}` from `{module}`, but `{module}` defines no `{name}`{where}.{hint}",
            f"Import the name `{module}` really defines (renamed or moved?), or add `{name}` to `{module}`.",
        )
    if m := _NO_MODULE.search(text):
        missing = m.group("name")
        top = missing.split(".")[0]
        if "." in missing and top not in DISTRIBUTIONS and missing not in DISTRIBUTIONS:
            parent, child = missing.rsplit(".", 1)
            siblings = module_names(ctx.root, parent) or []
            hint = did_you_mean([f"{parent}.{s}" for s in close_names(child, siblings)])
            return Verdict(
                "import-error",
                f"`{ctx.test}` imports `{missing}`: the package `{parent}` was found but has no module `{child}`"
                f"{where}.{hint}",
                f"Fix the module path in the import (check the spelling of `{child}` and that the file "
                f"{parent.replace('.', '/')}/{child}.py exists and is committed).",
            )
        if module_names(ctx.root, top) is not None or module_file(ctx.root, top):
            return Verdict(
                "import-error",
                f"`{ctx.test}` imports `{missing}`, which is part of this project but is not importable from the "
                f"test run{where}.",
                "Install the project in the test environment (`pip install -e .`) or add its folder to pytest's "
                '`pythonpath` setting (e.g. `pythonpath = ["src"]`).',
            )
        dist = DISTRIBUTIONS.get(missing) or DISTRIBUTIONS.get(top) or top.replace("_", "-")
        return Verdict(
            "import-error",
            f"`{ctx.test}` needs the module `{missing}`, which is not installed in this environment{where}. "
            f"It comes from the distribution `{dist}`.",
            f"`pip install {dist}` and add `{dist}` to the project's test dependencies (or skip the test when it is "
            f'missing: `pytest.importorskip("{top}")`).',
        )
    return Verdict(
        "import-error",
        f"`{ctx.test}` failed to import{where}: {ctx.short}: {ctx.message}",
        "Check the import path and that the module's own imports succeed (run `python -c 'import …'`).",
    )
