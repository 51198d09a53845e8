"""The held-out check of issue #16: the repository under review is untrusted.

Written black-box, without reading how redaction, sensitive files or CI escaping are implemented: the
tool is driven only through its command line (`review` staged and `--rev`, `query`), `pytest --assist`
(a subprocess or pytester), the HTTP API (`POST /assistant/query`) and the shared test fixtures (the
fake OpenAI server records every request the real SDK sends; real git repositories). Every secret is
generated at run time from a seeded `random.Random` (no literal token is written in this file).

1. **Secrets** — each shape is staged (or asked) and no 10-character window of it may appear in
   anything the fake server received (bodies, paths, headers other than Authorization).
2. **Secret files** — a staged `.env`, private key, kubeconfig, … fails the review with a finding on
   that file, with and without a key, and nothing of its content is sent.
3. **CI logs** — hostile model answers and server errors go through every `review` format, `query`
   and `pytest --assist` under `GITHUB_ACTIONS=true`; the log is parsed the way the Actions runner
   reads it and no line may be a workflow command we did not emit.
4. **Repository templates** — the classic jinja2 sandbox escapes in `.symphony-assist/templates/`
   never run a command nor leak the environment, and the review does not crash.
5. **Routing** — a repository's `pyproject.toml` naming a server (`base_url`, `server_url`,
   `cache_url`) gets nothing, neither the key nor the token nor the code.

Batches share one fake server and one run; a leak is attributed to its shape by the shape's own
random values, so each shape is its own test id.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import re
import secrets
import socket
import string
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fake_secrets import FORMATS, make
from fakeserver import FakeOpenAI, running_fake
from gitrepo import GitRepo
from responders import answering, frame_of, items_of, numbered_lines
from test_server import serving

from symphony_assist_hooks.cli import main

SEED = 16_0016
WINDOW = 10
DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4, 5, 6}
ALNUM = string.ascii_letters + string.digits
LOWER = string.ascii_lowercase
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"


# ==================================================================================== infrastructure
class TcpRecorder:
    """A listening socket on 127.0.0.1 that records every connection and every byte sent to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.data = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(0.2)
            with contextlib.suppress(OSError):
                self.data += conn.recv(65536)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def received(fake: FakeOpenAI, start: int = 0, stop: int | None = None) -> str:
    """Everything the server received (paths, headers but Authorization, raw and decoded bodies)."""
    parts: list[str] = []

    def strings(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                parts.append(str(k))
                strings(v)
        elif isinstance(value, list):
            for v in value:
                strings(v)

    for req in list(fake.requests)[start:stop]:
        parts.append(req.path)
        parts.extend(f"{k}: {v}" for k, v in req.headers.items() if k != "authorization")
        parts.append(req.text)
        strings(req.body)
    return "\n".join(parts)


def leaked_windows(values: tuple[str, ...], blob: str) -> list[str]:
    """The 10-character windows of `values` found in `blob`, masked (a failure never prints a secret)."""
    found = []
    for value in values:
        for piece in value.splitlines() or [value]:
            for i in range(len(piece) - WINDOW + 1):
                if piece[i : i + WINDOW] in blob:
                    found.append(f"{piece[i : i + 2]}…({len(piece)} chars, window at {i})")
                    break
    return found


def base_env(root: Path, fake: FakeOpenAI | None = None, **extra: str) -> dict[str, str]:
    """An explicit environment for a subprocess: a private home, no real key, our fake server."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "PYTHONDONTWRITEBYTECODE": "1",
        "SYMPHONY_ASSIST_CACHE_DIR": str(root / "cache"),
        "SYMPHONY_ASSIST_TIMEOUT": "10",
        "SYMPHONY_ASSIST_DEADLINE": "60",
        "SYMPHONY_ASSIST_BUDGET_RUN": "100",
        "SYMPHONY_ASSIST_BUDGET_MONTHLY": "1000",
    }
    if fake is not None:
        env["OPENAI_API_KEY"] = "sk-test-" + secrets.token_hex(16)
        env["OPENAI_BASE_URL"] = fake.url
    env.update(extra)
    return env


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "symphony_assist_hooks", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=300,
        check=False,
    )


def run_pytest(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *args],
        cwd=cwd,
        env={**env, "PYTEST_ADDOPTS": "", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": ""},
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=300,
        check=False,
    )


def new_repo(path: Path) -> GitRepo:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(path.parent))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        return GitRepo(path)


def git_in(repo: GitRepo, *args: str) -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(repo.path.parent))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        return repo.run(*args)


# ============================================================================ 1. secret shapes (staged)
def _rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _mixed(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    while True:
        value = _rand(rng, n, alphabet)
        if any(c.isdigit() for c in value) and any(c.isupper() for c in value) and any(c.islower() for c in value):
            return value


def _pw(rng: random.Random, special: str = "") -> str:
    """A password with `special` in the middle and 15+ random characters on each side of it."""
    return _mixed(rng, 15) + special + _mixed(rng, 16)


@dataclass(frozen=True)
class Shape:
    id: str
    files: dict[str, str]  # path -> content
    secrets: tuple[str, ...]  # what must not reach the service (10-character windows)
    question: str = ""  # the same secret as free text, for `query` and the HTTP API


Builder = Callable[[random.Random], tuple[str, str, tuple[str, ...]]]  # (basename, content, secrets)


def _single(basename: str, template: str, gen: Callable[[random.Random], str]) -> Builder:
    def build(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
        value = gen(rng)
        return basename, template.replace("{v}", value), (value,)

    return build


def _stripe(rng: random.Random) -> str:
    return "sk_" + "live_" + _mixed(rng, 28)


def _ghp(rng: random.Random) -> str:
    return "gh" + "p_" + _mixed(rng, 36)


def _slack(rng: random.Random) -> str:
    return "xo" + "xb-" + _rand(rng, 11, string.digits) + "-" + _rand(rng, 13, string.digits) + "-" + _mixed(rng, 24)


def _openai_key(rng: random.Random) -> str:
    return "s" + "k-proj-" + _mixed(rng, 40, B64URL) + "T3Blbk" + "FJ" + _mixed(rng, 40, B64URL)


def _aws_secret(rng: random.Random) -> str:
    return _mixed(rng, 40, B64)


def _concat_plus(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    token = _stripe(rng)
    cut = len("sk_" + "live_") + 12
    return "keys.py", f"STRIPE_KEY = '{token[:cut]}' + '{token[cut:]}'\n", (token,)


def _concat_plus_three(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    secret = _aws_secret(rng)
    a, b, c = secret[:13], secret[13:26], secret[26:]
    return "aws.py", f'AWS_SECRET_ACCESS_KEY = "{a}" + "{b}" + \\\n    "{c}"\n', (secret,)


def _concat_implicit(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    token = _ghp(rng)
    return "gh.py", f'GITHUB_TOKEN = ("{token[:20]}" "{token[20:]}")\n', (token,)


def _concat_js(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    key = _openai_key(rng)
    third = len(key) // 3
    parts = (key[:third], key[third : 2 * third], key[2 * third :])
    return "client.js", f"const apiKey = '{parts[0]}' +\n  '{parts[1]}' +\n  '{parts[2]}';\n", (key,)


def _concat_join(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    token = _slack(rng)
    parts = [token[i : i + 12] for i in range(0, len(token), 12)]
    return "notify.py", f"SLACK = ''.join({parts!r})\n", (token,)


def _split_lines_python(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    token = _slack(rng)
    half = len(token) // 2
    return "bot.py", f'SLACK_BOT_TOKEN = (\n    "{token[:half]}"\n    "{token[half:]}"\n)\n', (token,)


def _split_lines_shell(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    token = _ghp(rng)
    return "ci.sh", f"export GITHUB_TOKEN={token[:20]}\\\n{token[20:]}\n", (token,)


def _split_lines_pw(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    a, b = _mixed(rng, 16), _mixed(rng, 16)
    return "db.py", f'DB_PASSWORD = "{a}" \\\n    "{b}"\n', (a + b, a, b)


def _filename_stripe(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    token = _stripe(rng)
    return f"{token}.json", '{"note": "fixture"}\n', (token,)


def _filename_ghp(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    token = _ghp(rng)
    return f"dump-{token}.sql", "SELECT 1;\n", (token,)


def _filename_bare(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    token = _mixed(rng, 40, ALNUM)
    return f"token_{token}.txt", "see the name\n", (token,)


def _b64_k8s(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    pw = _pw(rng, "&")
    enc = base64.b64encode(pw.encode()).decode()
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  password: {enc}\n"
    return "db-secret.yaml", text, (enc, pw)


def _b64_python(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    creds = f"svc_{_rand(rng, 5, LOWER)}:{_pw(rng, '!')}"
    enc = base64.b64encode(creds.encode()).decode()
    return "auth.py", f'HEADERS = {{"Authorization": "Basic {enc}"}}\n', (enc, creds.split(":", 1)[1])


def _b64_blob(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    token = _ghp(rng)
    enc = base64.b64encode(f"token={token}".encode()).decode()
    return "bootstrap.py", f"SEED = base64.b64decode('{enc}')\n", (enc, token)


def _yaml_block(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    a, b = _mixed(rng, 32, B64), _mixed(rng, 32, B64)
    return "values.yaml", f"app:\n  signing_key: |\n    {a}\n    {b}\n  replicas: 2\n", (a, b)


def _yaml_folded(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    a, b = _pw(rng, "#"), _pw(rng, "&")
    return "config.yaml", f"db:\n  password: >-\n    {a}\n    {b}\n  host: db\n", (a, b)


def _yaml_quoted(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    pw = _pw(rng, "&#!")
    return "compose.yaml", f"services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: '{pw}'\n", (pw,)


def _json_connstr(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    pw = _pw(rng, "(") + ")"
    doc = {"ConnectionStrings": {"Default": f"Server=db;Database=app;User Id=svc;Password={pw};Encrypt=true"}}
    return "appsettings.json", json.dumps(doc, indent=2) + "\n", (pw,)


def _json_nested(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    key = _mixed(rng, 44, B64URL)
    doc = {"service": {"auth": {"jwt": {"signingKey": key}}}, "port": 8080}
    return "settings.json", json.dumps(doc, indent=2) + "\n", (key,)


def _notebook(rng: random.Random, where: str) -> tuple[str, str, tuple[str, ...]]:
    key = _openai_key(rng)
    source = ["import openai\n", f'openai.api_key = "{key}"\n'] if where == "source" else ["print(cfg)\n"]
    outputs = (
        [] if where == "source" else [{"name": "stdout", "output_type": "stream", "text": [f"{{'key': '{key}'}}\n"]}]
    )
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": outputs, "source": source}
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return "analysis.ipynb", json.dumps(nb, indent=1) + "\n", (key,)


def _gcp_sa(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    pem = make("pem-pkcs8", rng)
    key_id = _rand(rng, 40, HEX)
    doc = {
        "type": "service_account",
        "project_id": "demo-" + _rand(rng, 6, LOWER),
        "private_key_id": key_id,
        "private_key": pem.text + "\n",
        "client_email": "ci@demo.iam.gserviceaccount.example",
    }
    return "ci_service_account.json", json.dumps(doc, indent=2) + "\n", (key_id, *pem.secrets[1:])


def _xml_config(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    pw = _pw(rng, ";")
    return "web.config", f'<configuration>\n  <appSettings>\n    <add key="SmtpPassword" value="{pw}" />\n', (pw,)


def _passphrase(rng: random.Random) -> tuple[str, str, tuple[str, ...]]:
    words = " ".join(_rand(rng, 7, LOWER) for _ in range(4)) + " " + _rand(rng, 4, string.digits)
    return "app.cfg", f"[smtp]\npassword = {words}\n", (words,)


STAGED: dict[str, Builder] = {
    # passwords cut at punctuation (issue: "cut at &")
    **{
        f"cfg-password-{name}": _single(
            "app.cfg", "[db]\nhost = db.internal\npassword = {v}\nport = 5432\n", lambda r, s=special: _pw(r, s)
        )
        for name, special in {
            "amp": "&",
            "semicolon": ";",
            "parens": "()",
            "hash": "#",
            "bang": "!",
            "dollar": "$",
            "percent": "%",
            "all": "&;()#!$%",
        }.items()
    },
    "env-style-password-amp": _single("start.sh", "PASSWORD={v} ./bin/server\n", lambda r: _pw(r, "&")),
    "keyval-semicolon": _single("service.conf", "API_KEY={v}\n", lambda r: _mixed(r, 16) + ";" + _mixed(r, 16)),
    "passphrase-with-spaces": _passphrase,
    # connection strings
    "adonet-parens": _single(
        "Db.cs",
        'const string Cs = "Server=tcp:db.example.invalid,1433;Initial Catalog=app;User ID=svc;Password={v};";\n',
        lambda r: _mixed(r, 12) + "(" + _mixed(r, 12) + ")" + _mixed(r, 12),
    ),
    "adonet-quoted-semicolon": _single(
        "Repo.cs",
        "var cs = \"Server=db;Database=app;User Id=svc;Password='{v}';Pooling=true\";\n",
        lambda r: _mixed(r, 14) + ";" + _mixed(r, 14),
    ),
    "odbc-braces": _single(
        "odbc.py",
        'CS = "Driver={ODBC Driver 18};Server=db;Uid=svc;Pwd={{v}};"\n',
        lambda r: _mixed(r, 14) + ";" + _mixed(r, 14),
    ),
    "jdbc-postgres-query": _single(
        "Db.java",
        'String url = "jdbc:postgresql://db.internal:5432/app?user=svc&password={v}&ssl=true";\n',
        lambda r: _mixed(r, 24, ALNUM + "-_.~"),
    ),
    "jdbc-sqlserver": _single(
        "Sql.java",
        'String url = "jdbc:sqlserver://db:1433;databaseName=app;user=svc;password={v};encrypt=true";\n',
        lambda r: _pw(r, "!"),
    ),
    "jdbc-mysql-userinfo": _single(
        "My.java", 'String url = "jdbc:mysql://svc:{v}@db:3306/app";\n', lambda r: _mixed(r, 24)
    ),
    "mongodb-srv": _single(
        "mongo.py",
        'MONGO_URI = "mongodb+srv://svc:{v}@cluster0.example.invalid/app?retryWrites=true&w=majority"\n',
        lambda r: _mixed(r, 24),
    ),
    "amqp-url": _single("worker.py", 'BROKER = "amqp://svc:{v}@rabbit:5672/vhost"\n', lambda r: _mixed(r, 22)),
    "url-query-api-key": _single(
        "client.py", 'URL = "https://api.example.invalid/v1/items?api_key={v}&page=1"\n', lambda r: _mixed(r, 32)
    ),
    # .properties / INI / TOML / YAML / XML
    "properties-datasource": _single(
        "application.properties",
        "spring.datasource.url=jdbc:postgresql://db/app\nspring.datasource.username=svc\n"
        "spring.datasource.password={v}\n",
        lambda r: _pw(r, "&"),
    ),
    "properties-colon": _single("mail.properties", "mail.smtp.password: {v}\n", lambda r: _pw(r, "#")),
    "properties-space": _single("ldap.properties", "ldap.bind.credentials {v}\n", lambda r: _pw(r, "$")),
    "ini-password": _single("settings.ini", "[database]\nuser = svc\npassword = {v}\n", lambda r: _pw(r, ";")),
    "ini-colon-token": _single("tool.ini", "[api]\nsecret_token: {v}\n", lambda r: _mixed(r, 32)),
    "toml-basic": _single("app.toml", '[db]\npassword = "{v}"\n', lambda r: _pw(r, "&#")),
    "toml-literal": _single("deploy.toml", "[api]\ntoken = '{v}'\n", lambda r: _mixed(r, 36)),
    "yaml-plain-token": _single("ci.yaml", "deploy:\n  api_token: {v}\n", lambda r: _mixed(r, 36)),
    "yaml-quoted-specials": _yaml_quoted,
    "yaml-block-scalar": _yaml_block,
    "yaml-folded-scalar": _yaml_folded,
    "xml-appsettings": _xml_config,
    "hcl-password": _single("main.tf", 'resource "db" "x" {\n  password = "{v}"\n}\n', lambda r: _pw(r, "%")),
    # command lines
    "curl-u": _single(
        "fetch.sh", "curl -fsS -u deploy:{v} https://artifacts.example.invalid/x.tgz\n", lambda r: _pw(r, "!")
    ),
    "curl-user-long": _single(
        "upload.sh", "curl --user 'ci:{v}' -T out.zip https://dav.example.invalid/\n", lambda r: _pw(r, "&")
    ),
    "curl-header-key": _single(
        "probe.sh", 'curl -H "X-Api-Key: {v}" https://api.example.invalid/health\n', lambda r: _mixed(r, 32)
    ),
    "mysql-p": _single("seed.sh", "mysql -h db -u root -p{v} app < seed.sql\n", lambda r: _pw(r, "#")),
    "mysqldump-password": _single("backup.sh", "mysqldump --password={v} app > app.sql\n", lambda r: _pw(r, "&")),
    "pgpassword-env": _single("psql.sh", "PGPASSWORD={v} psql -h db -U svc app\n", lambda r: _pw(r, "!")),
    "sshpass": _single("ssh.sh", "sshpass -p '{v}' ssh deploy@host\n", lambda r: _pw(r, "$")),
    "wget-password": _single(
        "get.sh", "wget --user=ci --password={v} https://x.example.invalid/f\n", lambda r: _pw(r, "%")
    ),
    # SQL
    "sql-identified-by": _single("init.sql", "CREATE USER 'app'@'%' IDENTIFIED BY '{v}';\n", lambda r: _pw(r, "&")),
    "sql-with-password": _single("roles.sql", "ALTER ROLE app WITH LOGIN PASSWORD '{v}';\n", lambda r: _pw(r, ";")),
    "sql-mssql-login": _single("login.sql", "CREATE LOGIN app WITH PASSWORD = '{v}';\n", lambda r: _pw(r, "(")),
    # names, concatenation, splitting, encodings
    "filename-stripe": _filename_stripe,
    "filename-github": _filename_ghp,
    "filename-bare-entropy": _filename_bare,
    "concat-plus": _concat_plus,
    "concat-plus-three-pieces": _concat_plus_three,
    "concat-implicit": _concat_implicit,
    "concat-js-multiline": _concat_js,
    "concat-join-list": _concat_join,
    "split-two-lines-python": _split_lines_python,
    "split-two-lines-shell": _split_lines_shell,
    "split-two-lines-password": _split_lines_pw,
    "base64-k8s-secret": _b64_k8s,
    "base64-basic-auth": _b64_python,
    "base64-token-blob": _b64_blob,
    # file kinds
    "json-connection-string": _json_connstr,
    "json-nested-signing-key": _json_nested,
    "dockerfile-env-equals": _single(
        "Dockerfile", "FROM python:3.11-slim\nENV DB_PASSWORD={v}\n", lambda r: _pw(r, "&")
    ),
    "dockerfile-env-space": _single("Dockerfile", "FROM alpine\nENV API_TOKEN {v}\n", lambda r: _mixed(r, 36)),
    "dockerfile-arg": _single("Dockerfile", "FROM node:20\nARG NPM_TOKEN={v}\n", lambda r: "np" + "m_" + _mixed(r, 36)),
    "shell-export-aws": _single("env.sh", "export AWS_SECRET_ACCESS_KEY={v}\n", _aws_secret),
    "shell-export-quoted": _single("env2.sh", "export DATABASE_PASSWORD='{v}'\n", lambda r: _pw(r, "&;")),
    "notebook-source": lambda r: _notebook(r, "source"),
    "notebook-output": lambda r: _notebook(r, "output"),
    "gcp-service-account": _gcp_sa,
    "php-define": _single("config.php", "<?php define('DB_PASSWORD', '{v}');\n", lambda r: _pw(r, "$")),
    "go-const": _single("main.go", 'package main\n\nconst apiSecret = "{v}"\n', lambda r: _mixed(r, 40)),
    "powershell-securestring": _single(
        "deploy.ps1", 'ConvertTo-SecureString "{v}" -AsPlainText -Force\n', lambda r: _pw(r, "!")
    ),
    # free text (markdown prose)
    "prose-bare-aws-secret": _single("notes.md", "The request was signed with {v} yesterday.\n", _aws_secret),
    "prose-bare-hex48": _single("notes.md", "Use {v} to sign the webhook.\n", lambda r: _rand(r, 48, HEX)),
    "prose-bare-base64-64": _single("notes.md", "blob {v} here\n", lambda r: _mixed(r, 62, B64) + "=="),
    "prose-bare-b64url-43": _single("notes.md", "Fernet {v}= works\n", lambda r: _mixed(r, 43, B64URL)),
}

# the vendor formats of tests/fake_secrets.py, written in prose: a token alone (nothing to anchor on but its
# own shape); a URL, a connection string or a short password with the line it comes in (its context)
IN_CONTEXT = {
    "postgres-url", "mysql-url", "redis-url-no-user", "https-basic-auth-url", "azure-storage-connection-string",
    "slack-webhook", "discord-webhook", "env-password-quoted", "yaml-password",
}  # fmt: skip
for _name in FORMATS:

    def _prose(rng: random.Random, name: str = _name) -> tuple[str, str, tuple[str, ...]]:
        fake = make(name, rng)
        if "\n" in fake.text:  # a PEM block pasted into notes
            return "notes.md", f"Paste this into the vault:\n\n{fake.text}\n", fake.secrets
        if name in IN_CONTEXT:  # the user name of a URL is not a secret: only its password is checked
            return "notes.md", f"It works on the laptop with `{fake.text.strip()}` set.\n", fake.secrets[-1:]
        return "notes.md", f"Logged in with {fake.secrets[0]} from the laptop.\n", fake.secrets

    STAGED[f"vendor-prose-{_name}"] = _prose


def _shapes() -> dict[str, Shape]:
    rng = random.Random(SEED)
    out = {}
    for shape_id, build in STAGED.items():
        basename, content, values = build(rng)
        out[shape_id] = Shape(
            shape_id, {f"s/{shape_id}/{basename}": content}, values, f"Why does this fail?\n{content}"
        )
    return out


SHAPES = _shapes()
# free-text only (never staged): what `query` and the HTTP API are asked
_qrng = random.Random(SEED + 1)
FREE_TEXT = {
    "bare-aws-secret": (v := _aws_secret(_qrng), f"boto says SignatureDoesNotMatch for {v}, why?"),
    "bare-hex48": (v := _rand(_qrng, 48, HEX), f"is {v} a valid webhook secret"),
    "bare-hex-odd": (v := _rand(_qrng, 50, HEX), f"hmac key {v} rejected"),
    "bare-base64": (v := _mixed(_qrng, 62, B64) + "==", f"what does {v} decode to?"),
    "bare-alnum-40": (v := _mixed(_qrng, 40), f"my token {v} expired, how do I refresh it"),
    "password-is": (v := _pw(_qrng, "&"), f"my database password is {v} - why is it rejected?"),
    "password-parens": (v := _pw(_qrng, "()"), f"login fails with password {v}"),
    "jdbc-in-question": (v := _mixed(_qrng, 20), f"why does jdbc:postgresql://h/db?user=u&password={v} time out?"),
}
QUERY_SHAPES: dict[str, tuple[tuple[str, ...], str]] = {k: ((v,), q) for k, (v, q) in FREE_TEXT.items()}
for _sid in (
    "cfg-password-amp", "keyval-semicolon", "adonet-parens", "jdbc-postgres-query", "mongodb-srv",
    "properties-datasource", "curl-u", "mysql-p", "sql-identified-by", "concat-plus", "base64-token-blob",
    "vendor-prose-slack-bot", "vendor-prose-aws-secret-access-key", "vendor-prose-stripe-live",
    "vendor-prose-github-pat-classic", "vendor-prose-anthropic", "vendor-prose-openai-project",
    "vendor-prose-twilio-api-key",
):  # fmt: skip
    QUERY_SHAPES[_sid] = (SHAPES[_sid].secrets, SHAPES[_sid].question)


@dataclass
class BatchRun:
    code: int
    out: str
    err: str
    start: int
    stop: int
    fake: FakeOpenAI

    def blob(self) -> str:
        return received(self.fake, self.start, self.stop)


@dataclass
class LeakLab:
    fake: FakeOpenAI
    root: Path
    runs: dict[str, BatchRun] = field(default_factory=dict)


@pytest.fixture(scope="module")
def leak_server() -> Iterator[FakeOpenAI]:
    with running_fake() as fake:
        fake.responder = answering()  # every item answered: the run goes on as with a real service
        yield fake


@pytest.fixture(scope="module")
def leak_lab(leak_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> LeakLab:
    """Every staged shape in one commit, reviewed once staged and once as `--rev` (no cache)."""
    root = tmp_path_factory.mktemp("heldout-leaks")
    repo = new_repo(root / "repo")
    repo.write("README.md", "seed\n")
    git_in(repo, "add", "README.md")
    git_in(repo, "commit", "-q", "--no-verify", "-m", "seed")
    for shape in SHAPES.values():
        for rel, content in shape.files.items():
            repo.write(rel, content)
    repo.write("canary/app.py", "def canary_function_for_heldout(x):\n    return x + 1\n")
    git_in(repo, "add", "-A")
    env = base_env(root, leak_server)
    lab = LeakLab(leak_server, root)
    start = len(leak_server.requests)
    proc = run_cli(["review", "--format", "json"], repo.path, env)
    lab.runs["staged"] = BatchRun(
        proc.returncode, proc.stdout, proc.stderr, start, len(leak_server.requests), leak_server
    )
    git_in(repo, "commit", "-q", "--no-verify", "-m", "shapes")
    start = len(leak_server.requests)
    proc = run_cli(["review", "--rev", "HEAD~1..HEAD", "--no-cache", "--format", "json"], repo.path, env)
    lab.runs["rev"] = BatchRun(proc.returncode, proc.stdout, proc.stderr, start, len(leak_server.requests), leak_server)
    return lab


@pytest.mark.parametrize("mode", ["staged", "rev"])
def test_the_batch_of_shapes_was_reviewed_with_the_service(leak_lab: LeakLab, mode: str) -> None:
    """Guards the leak checks against passing vacuously: the run reached the service and did not crash."""
    run = leak_lab.runs[mode]
    assert "Traceback" not in run.err, run.err[-2000:]
    assert run.code in (0, 1), (run.code, run.err[-2000:])
    assert run.stop > run.start, "nothing was sent: the leak checks of this mode would be vacuous"
    assert "canary_function_for_heldout" in run.blob(), "the harmless file of the batch was not reviewed"


@pytest.mark.parametrize("mode", ["staged", "rev"])
@pytest.mark.parametrize("shape_id", list(SHAPES))
def test_no_window_of_a_staged_secret_reaches_the_service(leak_lab: LeakLab, shape_id: str, mode: str) -> None:
    leaks = leaked_windows(SHAPES[shape_id].secrets, leak_lab.runs[mode].blob())
    assert not leaks, f"{shape_id} ({mode}): sent to the service: {leaks}"


@pytest.fixture
def query_env(leak_server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + secrets.token_hex(16))
    monkeypatch.setenv("OPENAI_BASE_URL", leak_server.url)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "10")
    return leak_server


@pytest.mark.parametrize("shape_id", list(QUERY_SHAPES))
def test_no_window_of_a_secret_in_a_query_reaches_the_service(
    query_env: FakeOpenAI, capsys: pytest.CaptureFixture[str], shape_id: str
) -> None:
    values, question = QUERY_SHAPES[shape_id]
    start = len(query_env.requests)
    code = main(["query", question])
    err = capsys.readouterr().err
    assert code in DOCUMENTED_EXIT_CODES and "Traceback" not in err
    leaks = leaked_windows(values, received(query_env, start))
    assert not leaks, f"query {shape_id}: sent to the service: {leaks}"


def test_no_window_of_a_secret_in_a_batch_file_reaches_the_service(
    query_env: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "questions.txt"
    batch.write_text("".join(q.replace("\n", " ") + "\n" for _, q in QUERY_SHAPES.values()), encoding="utf-8")
    start = len(query_env.requests)
    code = main(["query", "--batch-file", str(batch)])
    capsys.readouterr()
    assert code in DOCUMENTED_EXIT_CODES
    blob = received(query_env, start)
    leaks = {sid: w for sid, (values, _) in QUERY_SHAPES.items() if (w := leaked_windows(values, blob))}
    assert not leaks, f"query --batch-file: sent to the service: {sorted(leaks)}"


@dataclass
class HttpApi:
    url: str
    fake: FakeOpenAI


@pytest.fixture(scope="module")
def http_api(leak_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpApi]:
    """`symphony-assist serve` in a thread (uvicorn on 127.0.0.1), its upstream the fake server."""

    from symphony_assist_hooks.config import load_settings
    from symphony_assist_hooks.server import create_app

    root = tmp_path_factory.mktemp("heldout-api")
    env = {
        "OPENAI_API_KEY_PRIMARY": "sk-test-" + secrets.token_hex(16),
        "OPENAI_BASE_URL": leak_server.url,
        "SYMPHONY_ASSIST_CACHE_DIR": str(root / "cache"),
        "SYMPHONY_ASSIST_TIMEOUT": "10",
        "SYMPHONY_ASSIST_BUDGET_MONTHLY": "1000",
    }
    with serving(create_app(load_settings(env=env, cwd=root))) as url:
        yield HttpApi(url, leak_server)


@pytest.mark.parametrize("shape_id", list(QUERY_SHAPES))
def test_no_window_of_a_secret_posted_to_the_http_api_reaches_the_service(http_api: HttpApi, shape_id: str) -> None:
    import httpx2

    values, question = QUERY_SHAPES[shape_id]
    start = len(http_api.fake.requests)
    with httpx2.Client(base_url=http_api.url, timeout=30) as client:
        resp = client.post("/assistant/query", json={"prompt": question, "context": question[-200:]})
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    leaks = leaked_windows(values, received(http_api.fake, start))
    assert not leaks, f"POST /assistant/query {shape_id}: sent to the service: {leaks}"


# ------------------------------------------------------------------ secrets in a failing test (pytest)
PYTEST_KINDS = (
    "slack-bot", "slack-user", "github-pat-classic", "github-fine-grained", "stripe-live", "stripe-restricted",
    "aws-access-key-id", "aws-secret-access-key", "openai-project", "openai-legacy", "anthropic", "google-api-key",
    "gcp-oauth-client-secret", "jwt", "npm", "sendgrid", "twilio-api-key", "telegram-bot", "huggingface",
)  # fmt: skip
PYTEST_VARIANTS = {
    "message": '    assert tok.startswith("nope"), "upstream rejected credential " + tok\n',
    "compare": '    assert tok == "expected-credential-value"\n',
    "raise": '    raise PermissionError(f"token {tok} was revoked (HTTP 401)")\n',
}
_prng = random.Random(SEED + 2)
PYTEST_TOKENS = {kind: make(kind, _prng).secrets[0] for kind in PYTEST_KINDS}
PYTEST_TOKENS["connstr-password"] = _pw(_prng, "&;")
PYTEST_TOKENS["gcp-private-key-id"] = _rand(_prng, 40, HEX)


def _pytest_case(variant: str, kind: str) -> str:
    return "test_" + variant + "_" + re.sub(r"\W", "_", kind)


def _pytest_project() -> str:
    lines = [
        "import json\nimport pathlib\n\n",
        'TOKENS = json.loads((pathlib.Path(__file__).parent / "tokens.json").read_text())\n\n\n',
    ]
    for variant, body in PYTEST_VARIANTS.items():
        for kind in PYTEST_TOKENS:
            if kind == "connstr-password":
                get = f'    tok = "Server=db;User Id=svc;Password=" + TOKENS[{kind!r}] + ";"\n'
            elif kind == "gcp-private-key-id":
                get = f'    tok = str({{"type": "service_account", "private_key_id": TOKENS[{kind!r}]}})\n'
            else:
                get = f"    tok = TOKENS[{kind!r}]\n"
            lines.append(f"def {_pytest_case(variant, kind)}():\n{get}{body}\n\n")
    return "".join(lines)


@pytest.fixture(scope="module")
def pytest_leaks(leak_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> BatchRun:
    root = tmp_path_factory.mktemp("heldout-pytest-leaks")
    project = root / "proj"
    project.mkdir()
    (project / "tokens.json").write_text(json.dumps(PYTEST_TOKENS), encoding="utf-8")
    (project / "test_credentials.py").write_text(_pytest_project(), encoding="utf-8")
    env = base_env(root, leak_server)
    start = len(leak_server.requests)
    proc = run_pytest(["--assist", "--assist-max-failures", "200", "-q", "test_credentials.py"], project, env)
    return BatchRun(proc.returncode, proc.stdout, proc.stderr, start, len(leak_server.requests), leak_server)


def test_the_failing_tests_were_explained_by_the_service(pytest_leaks: BatchRun) -> None:
    assert pytest_leaks.code == 1, pytest_leaks.out[-3000:]
    assert pytest_leaks.stop > pytest_leaks.start, "nothing was sent: the pytest leak checks would be vacuous"


@pytest.mark.parametrize("variant", list(PYTEST_VARIANTS))
@pytest.mark.parametrize("kind", list(PYTEST_TOKENS))
def test_no_window_of_a_secret_in_a_failing_test_reaches_the_service(
    pytest_leaks: BatchRun, kind: str, variant: str
) -> None:
    leaks = leaked_windows((PYTEST_TOKENS[kind],), pytest_leaks.blob())
    assert not leaks, f"pytest --assist {variant} {kind}: sent to the service: {leaks}"


# =============================================================================== 2. secret files
def _env_file(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    pw, key = _pw(rng, "&"), _mixed(rng, 32)
    return f"DB_PASSWORD={pw}\nAPI_KEY={key}\nDEBUG=0\n", (pw, key)


def _pem_file(kind: str) -> Callable[[random.Random], tuple[str, tuple[str, ...]]]:
    def build(rng: random.Random) -> tuple[str, tuple[str, ...]]:
        fake = make(kind, rng)
        return fake.text + "\n", fake.secrets[1:]

    return build


def _credentials_json(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    _, text, values = _gcp_sa(rng)
    return text, values


def _kubeconfig(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    data = base64.b64encode(rng.randbytes(96)).decode()
    token = _mixed(rng, 48, B64URL)
    text = textwrap.dedent(f"""\
        apiVersion: v1
        kind: Config
        clusters:
        - cluster: {{server: "https://10.0.0.1:6443"}}
          name: prod
        users:
        - name: admin
          user:
            client-key-data: {data}
            token: {token}
        """)
    return text, (data, token)


def _npmrc(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    token = _mixed(rng, 40, B64URL)
    return f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={token}\n", (token,)


def _pypirc(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    pw = _pw(rng, "#")
    return f"[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = ci-bot\npassword = {pw}\n", (pw,)


def _netrc(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    pw = _pw(rng, "!")
    return f"machine api.example.invalid login bot password {pw}\n", (pw,)


def _git_credentials(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    pw = _mixed(rng, 30)
    return f"https://bot:{pw}@git.example.invalid\n", (pw,)


def _aws_credentials(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    secret = _aws_secret(rng)
    return f"[default]\naws_access_key_id = {'AK' + 'IA' + _rand(rng, 16, string.ascii_uppercase)}\n" \
           f"aws_secret_access_key = {secret}\n", (secret,)  # fmt: skip


def _docker_config(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    auth = base64.b64encode(f"ci:{_mixed(rng, 24)}".encode()).decode()
    return json.dumps({"auths": {"registry.example.invalid": {"auth": auth}}}) + "\n", (auth,)


SECRET_FILES: dict[str, Callable[[random.Random], tuple[str, tuple[str, ...]]]] = {
    ".env": _env_file,
    "prod.env": _env_file,
    ".env.production": _env_file,
    "config/.env.local": _env_file,
    "id_rsa": _pem_file("pem-rsa"),
    "id_ed25519": _pem_file("pem-openssh"),
    "deploy/id_ecdsa": _pem_file("pem-ec"),
    "server.pem": _pem_file("pem-pkcs8"),
    "certs/tls.key": _pem_file("pem-rsa"),
    "credentials.json": _credentials_json,
    "kubeconfig": _kubeconfig,
    ".kube/config": _kubeconfig,
    ".npmrc": _npmrc,
    ".pypirc": _pypirc,
    ".netrc": _netrc,
    ".git-credentials": _git_credentials,
    ".aws/credentials": _aws_credentials,
    ".docker/config.json": _docker_config,
}


def _findings_on(out: str, rel: str) -> list[dict[str, Any]]:
    try:
        doc = json.loads(out)
    except ValueError:
        return []
    return [f for f in doc.get("findings", []) if isinstance(f, dict) and f.get("path") == rel]


@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "key"])
@pytest.mark.parametrize("rel", list(SECRET_FILES))
def test_a_staged_secret_file_fails_the_review_and_is_never_sent(
    git_repo: GitRepo,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    rel: str,
    with_key: bool,
) -> None:
    content, values = SECRET_FILES[rel](random.Random(f"{SEED}-{rel}"))
    git_repo.commit_files({"README.md": "seed\n"})
    git_repo.write(rel, content)
    git_repo.write("src/util.py", "def double(x):\n    return 2 * x\n")
    git_repo.add(rel, "src/util.py")
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    if with_key:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + secrets.token_hex(16))
        monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
        monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "10")
    capsys.readouterr()
    code = main(["review", "--format", "json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert code != 0, f"{rel}: a staged secret file let the commit through (exit 0)"
    assert _findings_on(captured.out, rel), f"{rel}: no finding names the file"
    leaks = leaked_windows(values, received(fake_openai))
    assert not leaks, f"{rel}: its content was sent: {leaks}"


# ==================================================================================== 3. CI logs
def _m(n: int) -> str:
    return f"hq{n:02d}z"


PAYLOADS: dict[str, str] = {
    "newline-add-mask": f"fine\n::add-mask::{_m(1)}",
    "indented-error": f"  ::error file=x.py,line=1::{_m(2)}",
    "legacy-warning": f"##[warning]{_m(3)}",
    "crlf-error": f"ok\r\n::error::{_m(4)}",
    "cr-error": f"ok\r::error::{_m(5)}",
    "u2028-error": f"ok\u2028::error::{_m(6)}",
    "u2029-legacy": f"ok\u2029##[error]{_m(7)}",
    "zwsp-legacy": f"##\u200b[error]{_m(8)}",
    "zwsp-colons": f"ok\n:\u200b:error::{_m(9)}",
    "alm-061c": f"ok\n\u061c::error::{_m(10)}",
    "stop-commands": f"x\n::stop-commands::{_m(11)}",
    "pct-0a": f"text%0A::error::{_m(12)}",
    "rule-property-injection": f"r,file=evil.py,line=99::{_m(13)}",
    "esc-cr": f"\x1b[2K\r::error::{_m(14)}",
    "nel-0085": f"ok\x85::error::{_m(15)}",
    "vt-ff": f"ok\x0b::warning::{_m(16)}\x0c::notice::{_m(16)}",
    "nbsp-lead": f"ok\n\u00a0::error::{_m(17)}",
    "ideographic-space-legacy": f"ok\n\u3000##[error]{_m(18)}",
    "set-output": f"ok\n::set-output name=x::{_m(19)}",
    "group": f"ok\n::group::{_m(20)}",
    "pct-0d": f"text%0D%0A::add-mask::{_m(21)}",
    "c1-csi": f"\x9b2K\r::error::{_m(22)}",
    "fs-gs-rs": f"ok\x1c::error::{_m(23)}\x1d::error::{_m(23)}\x1e::error::{_m(23)}",
    "bidi-override": f"ok\n\u202e::error::{_m(24)}",
    "upper-case-command": f"ok\n::ERROR::{_m(25)}",
    "osc-hyperlink": f"\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\n::error::{_m(26)}",
}
MARKER_OF = {pid: re.search(r"hq\d\dz", text).group(0) for pid, text in PAYLOADS.items()}  # type: ignore[union-attr]
FORBIDDEN_CHARS = {  # a payload whose special character must not survive into a log at all
    "esc-cr": "\x1b", "c1-csi": "\x9b", "alm-061c": "\u061c", "bidi-override": "\u202e", "osc-hyperlink": "\x1b",
}  # fmt: skip
KNOWN_COMMANDS = frozenset(
    {
        "add-mask", "add-matcher", "add-path", "debug", "echo", "endgroup", "error", "group", "notice",
        "remove-matcher", "save-state", "set-env", "set-output", "stop-commands", "warning",
    }
)  # fmt: skip
ANNOTATION_PROPERTIES = frozenset({"file", "line", "endline", "col", "endcolumn", "title"})


def runner_lines(log: str) -> list[str]:
    """The lines the Actions runner reads: split on \\n, \\r\\n and \\r only."""
    return re.split(r"\r\n|\r|\n", log)


_WS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)  # fmt: skip  (.NET Char.IsWhiteSpace: what TrimStart removes)


@dataclass(frozen=True)
class Command:
    line: str
    name: str
    properties: str
    data: str
    legacy: bool


def commands(log: str) -> list[Command]:
    """Every line the runner would treat as a workflow command (v2 `::name props::data`, legacy `##[`).

    `::stop-commands::TOKEN` turns v2 commands off until a line `::TOKEN::`; `##[` is counted live
    everywhere (the log viewer styles `##[error]` lines whatever the runner processes)."""
    out = []
    stopped: str | None = None
    for line in runner_lines(log):
        trimmed = line.lstrip(_WS)
        if "##[" in line:
            out.append(Command(line, "legacy", "", line[line.index("##[") :], True))
            continue
        if not trimmed.startswith("::"):
            continue
        end = trimmed.find("::", 2)
        if end < 0:
            continue
        info, data = trimmed[2:end], trimmed[end + 2 :]
        name, _, props = info.partition(" ")
        if stopped is not None:
            if name == stopped and not props:
                stopped = None
            continue
        if name.lower() in KNOWN_COMMANDS or re.fullmatch(r"[\w.-]+", name):
            out.append(Command(line, name.lower(), props, data, False))
            if name.lower() == "stop-commands" and data.strip():
                stopped = data.strip()
    return out


def _unescape_property(value: str) -> str:
    for escaped, plain in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        value = value.replace(escaped, plain)
    return value


def violations(log: str, our_files: dict[str, int]) -> list[tuple[str, Command]]:
    """(why, command) for each command we did not emit ourselves. `our_files`: file name -> line count.

    Ours: `::error|warning|notice` whose properties are well formed (file is one of ours, line within
    it), whose message is escaped (every % is %25/%0D/%0A) and whose message was not written by a
    payload (a payload's command puts its marker right after `::`)."""
    out = []
    for cmd in commands(log):
        if cmd.legacy:
            out.append(("legacy ##[ command", cmd))
            continue
        if cmd.name == "stop-commands" and not re.search(r"hq\d\dz", cmd.line):
            continue  # ours: protects what follows (a payload cannot know the token)
        if cmd.name not in ("error", "warning", "notice"):
            out.append((f"command {cmd.name!r}", cmd))
            continue
        if re.match(r"\s*hq\d\dz", cmd.data):
            out.append(("annotation written by the payload", cmd))
            continue
        if re.search(r"%(?!25|0D|0A|3A|2C)", cmd.data):
            out.append(("unescaped % in the message", cmd))
            continue
        props: dict[str, str] = {}
        bad = ""
        for part in filter(None, cmd.properties.split(",")):
            key, eq, value = part.partition("=")
            if not eq or key.lower() not in ANNOTATION_PROPERTIES or key.lower() in props:
                bad = f"property {part[:40]!r}"
                break
            props[key.lower()] = _unescape_property(value)
        if not bad and "file" in props:
            name = props["file"]
            match = [f for f in our_files if name == f or name.endswith("/" + f)]
            if not match or ".." in name:
                bad = f"file {name!r} is not ours"
            elif "line" in props and not (props["line"].isdigit() and 1 <= int(props["line"]) <= our_files[match[0]]):
                bad = f"line {props['line']!r} is not in {match[0]}"
        if bad:
            out.append((bad, cmd))
    return out


def _attribute(found: list[tuple[str, Command]], payload_id: str) -> list[str]:
    marker = MARKER_OF[payload_id]
    return [f"{why}: {cmd.line[:120]!r}" for why, cmd in found if marker in cmd.line]


CI_FILE = "ci/app.py"
CI_LINES = 2 * len(PAYLOADS) + 2
CI_TEST_FILE = "test_hostile_ci.py"


CI_GROUPS = 10  # the github format annotates at most 10 findings: the payloads are spread over 10 findings


def _ci_findings(item_id: str, label: str, content: str) -> list[dict[str, Any]]:
    """Finding k carries payloads k, k+10, k+20 (one per line of its message); the title carries payload k."""
    out = []
    ids = list(PAYLOADS)
    for n, (local, added, _) in enumerate(numbered_lines(content)):
        if not added or n >= CI_GROUPS:
            continue
        group = [PAYLOADS[pid] for pid in ids[n::CI_GROUPS]]
        rule = PAYLOADS["rule-property-injection"] if n == 0 else "hostile-" + _m(n + 1)
        text = "\n".join(group)
        out.append(
            {
                "checklist": "security", "line": local, "end_line": local, "severity": "high",
                "rule": rule, "title": group[0][:200], "message": text, "suggestion": text,
            }
        )  # fmt: skip
    return out


def _ci_respond(body: dict[str, Any]) -> Any:
    frame = frame_of(body)
    results: list[dict[str, Any]] = []
    for item_id, label, content in items_of(body):
        if frame == "findings":
            results.append({"id": item_id, "findings": _ci_findings(item_id, label, content)})
        elif frame == "answer":
            results.append({"id": item_id, "answer": " ".join(PAYLOADS.values())})
        else:
            pid = next((p for p in PAYLOADS if re.search(rf"\b{_pytest_ci_name(p)}\b", label)), None)
            text = PAYLOADS[pid] if pid else " ".join(PAYLOADS.values())
            results.append({"id": item_id, "category": "assertion-mismatch", "explanation": text, "fix": text})
    return json.dumps({"results": results})


def _pytest_ci_name(pid: str) -> str:
    return "test_payload_" + pid.replace("-", "_")


@dataclass
class CiLab:
    root: Path
    fake: FakeOpenAI
    repo: GitRepo
    project: Path
    logs: dict[str, str] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
def ci_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CiLab]:
    root = tmp_path_factory.mktemp("heldout-ci")
    repo = new_repo(root / "repo")
    repo.write("README.md", "seed\n")
    git_in(repo, "add", "README.md")
    git_in(repo, "commit", "-q", "--no-verify", "-m", "seed")
    repo.write(CI_FILE, "".join(f"value_{i} = compute({i})\n" for i in range(CI_LINES)))
    git_in(repo, "add", "-A")
    project = root / "proj"
    project.mkdir()
    tests = "".join(f"def {_pytest_ci_name(p)}():\n    assert 0, 'boom'\n\n\n" for p in PAYLOADS)
    (project / CI_TEST_FILE).write_text(tests, encoding="utf-8")
    with running_fake() as fake:
        fake.responder = _ci_respond
        yield CiLab(root, fake, repo, project)


REVIEW_FORMATS = ("text", "github", "json", "rdjsonl", "sarif", "gitlab")
CI_SINKS = (
    *(f"review-{fmt}" for fmt in ("text", "github", "json", "rdjsonl")),
    "review-all-formats",  # sarif and gitlab are written to files; all six at once must keep the log clean
    "review-fallback-error",
    "query",
    "pytest-assist",
    "pytest-assist-github",
    "pytest-fallback-error",
)


def _ci_log(lab: CiLab, sink: str) -> str:
    """Run `sink` once (memoised): stdout and stderr as a CI job logs them."""
    if sink in lab.logs:
        return lab.logs[sink]
    root = lab.root / sink
    env = base_env(root, lab.fake, GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(lab.repo.path),
                   GITHUB_STEP_SUMMARY=str(root / "summary.md"), LLM_MODEL_FALLBACK="gpt-4o-mini")  # fmt: skip
    if sink.endswith("fallback-error"):
        lab.fake.fail(400, code="invalid_value", message=" ".join(PAYLOADS.values()), times=None,
                      when_key=env["OPENAI_API_KEY"])  # fmt: skip
    if sink == "review-all-formats":
        files = [f"{fmt}={root / ('out.' + fmt)}" if fmt in ("sarif", "gitlab") else fmt for fmt in REVIEW_FORMATS]
        proc = run_cli(["review", *(a for f in files for a in ("--format", f))], lab.repo.path, env)
    elif sink.startswith("review-"):
        fmt = sink.removeprefix("review-")
        proc = run_cli(["review", "--format", "github" if fmt == "fallback-error" else fmt], lab.repo.path, env)
    elif sink == "query":
        # one prompt is a plain chat completion whose TEXT is printed: the hostile text is that answer
        lab.fake.enqueue(" ".join(PAYLOADS.values()))
        proc = run_cli(["query", "explain workflow commands"], lab.root, env)
    else:
        args = ["--assist", "--assist-max-failures", "200", "-q", CI_TEST_FILE]
        if sink == "pytest-assist-github":
            args[1:1] = ["--assist-format", "github"]
        proc = run_pytest(args, lab.project, env)
    assert "Traceback (most recent call last)" not in proc.stderr, proc.stderr[-3000:]
    lab.codes[sink] = proc.returncode
    lab.logs[sink] = proc.stdout + "\n" + proc.stderr
    return lab.logs[sink]


def _our_files(sink: str) -> dict[str, int]:
    return {CI_TEST_FILE: 4 * len(PAYLOADS)} if sink.startswith("pytest") else {CI_FILE: CI_LINES}


@pytest.mark.parametrize("sink", CI_SINKS)
def test_the_hostile_answer_reached_the_log(ci_lab: CiLab, sink: str) -> None:
    """Guards against a vacuous pass: the payloads (or the reason of the fallback) are in the log."""
    log = _ci_log(ci_lab, sink)
    assert ci_lab.codes[sink] in ({0, 1} if sink.startswith(("review", "pytest")) else DOCUMENTED_EXIT_CODES)
    if "fallback" not in sink:
        assert sum(m in log for m in MARKER_OF.values()) >= len(PAYLOADS) // 2, log[-3000:]


@pytest.mark.parametrize("sink", CI_SINKS)
def test_no_unattributed_workflow_command_in_the_log(ci_lab: CiLab, sink: str) -> None:
    found = violations(_ci_log(ci_lab, sink), _our_files(sink))
    stray = [f"{why}: {cmd.line[:120]!r}" for why, cmd in found if not re.search(r"hq\d\dz", cmd.line)]
    assert not stray, stray


@pytest.mark.parametrize("payload_id", list(PAYLOADS))
@pytest.mark.parametrize("sink", CI_SINKS)
def test_a_hostile_model_answer_runs_no_workflow_command(ci_lab: CiLab, sink: str, payload_id: str) -> None:
    log = _ci_log(ci_lab, sink)
    live = _attribute(violations(log, _our_files(sink)), payload_id)
    assert not live, f"{sink}: {payload_id} is live in the log: {live}"
    if payload_id in FORBIDDEN_CHARS:
        char = FORBIDDEN_CHARS[payload_id]
        assert char not in log, f"{sink}: {payload_id}: U+{ord(char):04X} reached the log"


def test_the_runner_parser_of_this_module_sees_live_commands() -> None:
    """The parser above can fail: raw payloads are live, our own well-formed annotation is not."""
    live = {pid for pid, raw in PAYLOADS.items() if _attribute(violations(raw, {CI_FILE: CI_LINES}), pid)}
    assert live >= {"newline-add-mask", "indented-error", "legacy-warning", "crlf-error", "cr-error",
                    "stop-commands", "nbsp-lead", "ideographic-space-legacy", "set-output", "esc-cr"}  # fmt: skip
    ours = f"::error file={CI_FILE},line=3,title=x%3A y::value %25 hq01z%0A::add-mask::x"
    assert violations(ours, {CI_FILE: CI_LINES}) == []
    assert violations(f"::error file=evil.py,line=3::x {_m(1)}", {CI_FILE: CI_LINES})
    assert violations(f"::error file={CI_FILE},line=3,file=evil.py::x", {CI_FILE: CI_LINES})
    fenced = f"::stop-commands::t0k3n\n::error::{_m(2)}\n::add-mask::{_m(1)}\n::t0k3n::\n::add-mask::{_m(3)}"
    assert [pid for pid in PAYLOADS if _attribute(violations(fenced, {}), pid)] == ["legacy-warning"]


# ========================================================================== 4. repository templates
ESCAPES: dict[str, str] = {
    "cycler-globals": "{{ cycler.__init__.__globals__.os.system('touch MARK') }}",
    "joiner-globals": "{{ joiner.__init__.__globals__.os.popen('touch MARK').read() }}",
    "namespace-globals": "{{ namespace.__init__.__globals__.os.system('touch MARK') }}",
    "lipsum-globals": "{{ lipsum.__globals__['os'].system('touch MARK') }}",
    "lipsum-builtins-open": "{{ lipsum.__globals__.__builtins__.open('MARK', 'w').write('x') }}",
    "self-init-import": "{{ self.__init__.__globals__.__builtins__.__import__('os').system('touch MARK') }}",
    "subclasses-wrap-close": "{% for c in ().__class__.__base__.__subclasses__() %}"
    "{% if c.__name__ == '_wrap_close' %}{{ c.__init__.__globals__['system']('touch MARK') }}{% endif %}{% endfor %}",
    "subclasses-catch-warnings": "{% for c in [].__class__.__base__.__subclasses__() %}"
    "{% if c.__name__ == 'catch_warnings' %}{{ c()._module.__builtins__['__import__']('os').system('touch MARK') }}"
    "{% endif %}{% endfor %}",
    "attr-filter-escaped": "{{ (cycler|attr('\\x5f\\x5finit\\x5f\\x5f')|attr('\\x5f\\x5fglobals\\x5f\\x5f'))"
    "['os'].system('touch MARK') }}",
    "attr-filter-getitem": "{{ ((lipsum|attr('__globals__'))|attr('__getitem__'))('os')|attr('system')"
    "|attr('__call__')('touch MARK') }}",
    "set-os-open": "{% set g = cycler.__init__.__globals__ %}{{ g['os'].open('MARK', 65) }}",
    "format-string-environ": "{{ '{0.__init__.__globals__[os].environ}'.format(cycler) }}",
    "format-map-environ": "{{ '{a.__init__.__globals__[os].environ}'.format_map({'a': joiner}) }}",
    "environ-dump": "{{ cycler.__init__.__globals__.os.environ }}",
    "include-outside": "{% include 'CANARY' %}",
    "import-outside": "{% from 'CANARY' import x %}{{ x }}",
}
TEMPLATE_NAMES = ("security", "code_review", "testing", "heldout_extra")


def _write_templates(root: Path, escape: str, marks: Path, canary_file: Path) -> None:
    for name in TEMPLATE_NAMES:
        body = (
            ESCAPES[escape].replace("MARK", str(marks / f"pwned-{escape}-{name}")).replace("CANARY", str(canary_file))
        )
        target = root / ".symphony-assist" / "templates" / f"{name}.md.j2"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"Review the change for {name}.\n{body}\nReport problems.\n", encoding="utf-8")


@pytest.fixture
def template_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> tuple[str, str, Path]:
    key = "sk-test-" + secrets.token_hex(16)
    canary = "heldout" + secrets.token_hex(12)
    canary_file = tmp_path / "outside" / "canary.txt"
    canary_file.parent.mkdir()
    canary_file.write_text(f"{{% macro x() %}}{canary}{{% endmacro %}}{canary}\n", encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "10")
    monkeypatch.setenv("HELDOUT_CANARY", canary)
    return key, canary, canary_file


@pytest.mark.parametrize("mode", ["staged", "rev"])
@pytest.mark.parametrize("escape", list(ESCAPES))
def test_a_repository_template_runs_nothing_and_leaks_nothing(
    git_repo: GitRepo,
    fake_openai: FakeOpenAI,
    template_env: tuple[str, str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    escape: str,
    mode: str,
) -> None:
    key, canary, canary_file = template_env
    marks = tmp_path / "marks"
    marks.mkdir()
    _write_templates(git_repo.path, escape, marks, canary_file)
    git_repo.write("pyproject.toml", '[tool.symphony-assist]\ntemplates = "' + ",".join(TEMPLATE_NAMES) + '"\n')
    git_repo.write("README.md", "seed\n")
    git_repo.add()
    git_repo.commit("seed with the repository's templates")
    git_repo.write("src/calc.py", "def area(w, h):\n    return w * h\n")
    git_repo.add("src/calc.py")
    args = ["review", "--template", ",".join(TEMPLATE_NAMES), "--format", "json"]
    if mode == "rev":
        git_repo.commit("change")
        args += ["--rev", "HEAD~1..HEAD"]
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    assert not list(marks.iterdir()), f"{escape}: a repository template ran a command: {os.listdir(marks)}"
    assert code in DOCUMENTED_EXIT_CODES, code
    assert "Traceback" not in captured.err, captured.err[-2000:]
    blob = received(fake_openai) + captured.out + captured.err
    assert not leaked_windows((key,), blob), f"{escape}: the API key left through a template"
    assert canary not in blob, f"{escape}: the environment or a file outside the repository left through a template"


@pytest.mark.parametrize("escape", list(ESCAPES))
def test_a_repository_testing_template_runs_nothing_under_pytest_assist(
    pytester: pytest.Pytester,
    fake_openai: FakeOpenAI,
    template_env: tuple[str, str, Path],
    tmp_path: Path,
    escape: str,
) -> None:
    key, canary, canary_file = template_env
    marks = tmp_path / "marks"
    marks.mkdir()
    _write_templates(pytester.path, escape, marks, canary_file)
    pytester.makepyfile(test_it="def test_fails():\n    assert 1 == 2\n")
    result = pytester.runpytest("--assist", "-p", "no:cacheprovider")
    assert not list(marks.iterdir()), f"{escape}: a repository template ran a command under pytest --assist"
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    blob = received(fake_openai) + result.stdout.str() + result.stderr.str()
    assert not leaked_windows((key,), blob), f"{escape}: the API key left through a template"
    assert canary not in blob, f"{escape}: the environment or a file outside the repository left through a template"


# =================================================================================== 5. routing
ROUTING_KEYS = ("base_url", "server_url", "cache_url", "all")
ROUTING_COMMANDS = ("review", "query", "pytest-assist")


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Name resolution answers only for loopback: with OPENAI_BASE_URL unset, the default (public)
    endpoint cannot be reached from this test, whatever the code under test does."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"held-out test: {name} is not reachable")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.mark.parametrize("command", ROUTING_COMMANDS)
@pytest.mark.parametrize("setting", ROUTING_KEYS)
def test_a_server_named_by_the_repository_receives_nothing(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_internet: None,
    setting: str,
    command: str,
) -> None:
    key = "sk-test-" + secrets.token_hex(16)
    token = secrets.token_urlsafe(32)
    recorder = TcpRecorder()
    with running_fake() as evil:
        evil_root = evil.url.removesuffix("/v1")
        settings = {
            "base_url": f'base_url = "{evil.url}"\n',
            "server_url": f'server_url = "{evil_root}"\n',
            "cache_url": f'cache_backend = "redis"\ncache_url = "redis://127.0.0.1:{recorder.port}/0"\n',
        }
        chosen = "".join(settings.values()) if setting == "all" else settings[setting]
        pyproject = f'[project]\nname = "victim"\nversion = "0"\n\n[tool.symphony-assist]\n{chosen}'
        monkeypatch.setenv("OPENAI_API_KEY", key)
        monkeypatch.setenv("SYMPHONY_ASSIST_SERVER_TOKEN", token)
        monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("SYMPHONY_ASSIST_TIMEOUT", "2")
        monkeypatch.setenv("SYMPHONY_ASSIST_DEADLINE", "10")
        try:
            if command == "pytest-assist":
                pytester: pytest.Pytester = request.getfixturevalue("pytester")
                pytester.makefile(".toml", pyproject=pyproject)
                pytester.makepyfile(test_victim="def test_x():\n    assert 1 == 2\n")
                result = pytester.runpytest("--assist", "-p", "no:cacheprovider")
                assert result.ret == pytest.ExitCode.TESTS_FAILED
            else:
                repo = GitRepo(tmp_path / "repo")
                monkeypatch.chdir(repo.path)
                repo.commit_files({"pyproject.toml": pyproject, "README.md": "seed\n"})
                repo.write("app.py", "def f(x):\n    return x + 1\n")
                repo.add("app.py")
                code = main(["review"] if command == "review" else ["query", "what is a mutex?"])
                assert code in DOCUMENTED_EXIT_CODES
                assert "Traceback" not in capsys.readouterr().err
        finally:
            recorder.close()
        assert evil.requests == [], f"{setting}: the repository's server received {len(evil.requests)} request(s)"
    assert recorder.connections == 0, f"{setting}: the repository's redis URL was connected to"
    assert key.encode() not in recorder.data and token.encode() not in recorder.data
