"""Fake, format-correct secrets generated at run time (docs/reference.md#secrets).

No literal token is written here: every vendor prefix is built by concatenation ("gh" + "p_"), so this
file never matches a secret scanner (the repository's own hook greps for e.g. `ghp_[A-Za-z0-9]{36}`).
Each format is a function of a `random.Random`, so a failure can be replayed from its seed:

    rng = random.Random(seed)
    for fake in cases(rng): ...

`Fake.text` is how the secret appears in a file (one line, or several for a PEM block); `Fake.secrets`
are the substrings that must not survive redaction.
"""

from __future__ import annotations

import base64
import json
import random
import string
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FORMATS", "Fake", "cases", "make"]

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase
UPPER_ALNUM = string.ascii_uppercase + string.digits
LOWER = string.ascii_lowercase
B32 = string.ascii_uppercase + "234567"
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
PASSWORD = ALNUM + "-_.!*"


@dataclass(frozen=True)
class Fake:
    name: str  # the format
    text: str  # the secret as it appears in a file
    secrets: tuple[str, ...]  # what must not survive redaction


def rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _mixed(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    """Random, but with a digit, an upper- and a lower-case letter, as real generated keys have."""
    while True:
        value = rand(rng, n, alphabet)
        if any(c.isdigit() for c in value) and any(c.isupper() for c in value) and any(c.islower() for c in value):
            return value


def _b64url_json(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _pem(rng: random.Random, label: str) -> tuple[str, str]:
    body = base64.b64encode(rng.randbytes(rng.randrange(600, 1200))).decode()
    lines = textwrap.wrap(body, 64)
    dashes = "-" * 5
    begin = f"{dashes}BEGIN {label}PRIVATE KEY{dashes}"  # split so no scanner matches this file
    end = f"{dashes}END {label}PRIVATE KEY{dashes}"
    return "\n".join([begin, *lines, end]), body


def _token(name: str, prefix: str, n: int, alphabet: str = ALNUM, suffix: str = "") -> Callable[[random.Random], Fake]:
    def make(rng: random.Random) -> Fake:
        value = prefix + _mixed(rng, n, alphabet) + suffix
        return Fake(name, f'TOKEN_{name.upper().replace("-", "_")} = "{value}"', (value,))

    return make


def _bare(name: str, build: Callable[[random.Random], str], template: str = "{}") -> Callable[[random.Random], Fake]:
    def make(rng: random.Random) -> Fake:
        value = build(rng)
        return Fake(name, template.format(value), (value,))

    return make


def _openai(kind: str) -> Callable[[random.Random], str]:
    marker = "T3Blbk" + "FJ"

    def build(rng: random.Random) -> str:
        if kind:
            return "s" + "k-" + kind + "-" + _mixed(rng, 74, B64URL) + marker + _mixed(rng, 74, B64URL)
        return "s" + "k-" + _mixed(rng, 20) + marker + _mixed(rng, 20)

    return build


def _jwt(rng: random.Random) -> str:
    header = _b64url_json({"alg": "HS256", "typ": "JWT"})
    payload = _b64url_json({"sub": rand(rng, 12), "name": rand(rng, 8, LOWER), "iat": rng.randrange(10**9, 2 * 10**9)})
    return f"{header}.{payload}.{_mixed(rng, 43, B64URL)}"


def _pem_fake(name: str, label: str) -> Callable[[random.Random], Fake]:
    def make(rng: random.Random) -> Fake:
        block, body = _pem(rng, label)
        return Fake(name, block, (block.splitlines()[0], *block.splitlines()[1:-1], body[:64]))

    return make


def _url(name: str, template: str, user: bool = True, alphabet: str = PASSWORD) -> Callable[[random.Random], Fake]:
    def make(rng: random.Random) -> Fake:
        username = rand(rng, 6, LOWER) + "_svc" if user else ""
        password = _mixed(rng, 18, alphabet)
        userinfo = f"{username}:{password}"
        return Fake(name, template.format(userinfo=userinfo), (userinfo, password))

    return make


def _assignment(name: str, template: str, build: Callable[[random.Random], str]) -> Callable[[random.Random], Fake]:
    def make(rng: random.Random) -> Fake:
        value = build(rng)
        return Fake(name, template.format(value), (value,))

    return make


def _azure(rng: random.Random) -> Fake:
    key = base64.b64encode(rng.randbytes(64)).decode()
    text = (
        f"DefaultEndpointsProtocol=https;AccountName={rand(rng, 12, LOWER)};"
        f"AccountKey={key};EndpointSuffix=core.windows.net"
    )
    return Fake("azure-storage-connection-string", text, (key,))


def _slack_webhook(rng: random.Random) -> Fake:
    path = f"T{rand(rng, 8, UPPER_ALNUM)}/B{rand(rng, 10, UPPER_ALNUM)}/{_mixed(rng, 24)}"
    url = "https://hooks." + "slack.com/services/" + path
    return Fake("slack-webhook", f'SLACK_URL = "{url}"', (path,))


def _discord_webhook(rng: random.Random) -> Fake:
    path = f"{rand(rng, 18, string.digits)}/{_mixed(rng, 68, B64URL)}"
    url = "https://discord.com/api/" + "webhooks/" + path
    return Fake("discord-webhook", f"notify({url!r})", (path.split("/")[1],))


FORMATS: dict[str, Callable[[random.Random], Fake]] = {
    "openai-legacy": _bare("openai-legacy", _openai(""), 'OPENAI_API_KEY = "{}"'),
    "openai-project": _bare("openai-project", _openai("proj"), "client = OpenAI(api_key='{}')"),
    "openai-service-account": _bare("openai-service-account", _openai("svcacct"), "export OPENAI_API_KEY={}"),
    "openai-admin": _bare("openai-admin", _openai("admin"), "key: {}"),
    "anthropic": _bare(
        "anthropic", lambda r: "sk-" + "ant-api03-" + _mixed(r, 93, B64URL) + "AA", 'ANTHROPIC_API_KEY="{}"'
    ),
    "aws-access-key-id": _bare("aws-access-key-id", lambda r: "AK" + "IA" + rand(r, 16, B32), "aws_access_key_id={}"),
    "aws-sts-key-id": _bare("aws-sts-key-id", lambda r: "AS" + "IA" + rand(r, 16, B32), "creds = ('{}', None)"),
    "aws-secret-access-key": _bare("aws-secret-access-key", lambda r: _mixed(r, 40, B64), "aws_secret_access_key = {}"),
    "github-pat-classic": _token("github-pat-classic", "gh" + "p_", 36),
    "github-oauth": _token("github-oauth", "gh" + "o_", 36),
    "github-user-to-server": _token("github-user-to-server", "gh" + "u_", 36),
    "github-server-to-server": _token("github-server-to-server", "gh" + "s_", 36),
    "github-refresh": _token("github-refresh", "gh" + "r_", 36),
    "github-fine-grained": _bare(
        "github-fine-grained",
        lambda r: "github_" + "pat_" + _mixed(r, 22) + "_" + _mixed(r, 59),
        "remote = 'https://{}@github.com/o/r.git'",
    ),
    "gitlab-pat": _bare("gitlab-pat", lambda r: "glp" + "at-" + _mixed(r, 20, B64URL), "GITLAB_TOKEN: {}"),
    "gitlab-runner": _bare("gitlab-runner", lambda r: "glr" + "t-" + _mixed(r, 20, B64URL), "token = '{}'"),
    "slack-bot": _bare(
        "slack-bot",
        lambda r: "xo" + "xb-" + rand(r, 11, string.digits) + "-" + rand(r, 13, string.digits) + "-" + _mixed(r, 24),
        "slack = WebClient('{}')",
    ),
    "slack-user": _bare(
        "slack-user",
        lambda r: "xo" + "xp-" + rand(r, 11, string.digits) + "-" + rand(r, 12, string.digits) + "-" + _mixed(r, 32),
        "SLACK_TOKEN={}",
    ),
    "slack-webhook": _slack_webhook,
    "stripe-live": _bare("stripe-live", lambda r: "sk_" + "live_" + _mixed(r, 24), "stripe.api_key = '{}'"),
    "stripe-test": _bare("stripe-test", lambda r: "sk_" + "test_" + _mixed(r, 24), "STRIPE={}"),
    "stripe-restricted": _bare("stripe-restricted", lambda r: "rk_" + "live_" + _mixed(r, 24), "'{}',"),
    "google-api-key": _bare("google-api-key", lambda r: "AI" + "za" + _mixed(r, 35, B64URL), "url += '&key={}'"),
    "gcp-oauth-client-secret": _bare(
        "gcp-oauth-client-secret", lambda r: "GOC" + "SPX-" + _mixed(r, 28, B64URL), '"client_secret": "{}"'
    ),
    "npm": _bare("npm", lambda r: "np" + "m_" + _mixed(r, 36), "//registry.npmjs.org/:_authToken={}"),
    "pypi": _bare("pypi", lambda r: "pyp" + "i-AgEIcHlwaS5vcmc" + _mixed(r, 70, B64URL), "password = {}"),
    "huggingface": _bare("huggingface", lambda r: "h" + "f_" + rand(r, 34, string.ascii_letters), "HF={}"),
    "sendgrid": _bare(
        "sendgrid", lambda r: "S" + "G." + _mixed(r, 22, B64URL) + "." + _mixed(r, 43, B64URL), "sg('{}')"
    ),
    "twilio-api-key": _bare("twilio-api-key", lambda r: "S" + "K" + rand(r, 32, HEX), "twilio_key: {}"),
    "discord-bot": _bare(
        "discord-bot",
        lambda r: "M" + _mixed(r, 23) + "." + _mixed(r, 6, B64URL) + "." + _mixed(r, 27, B64URL),
        "bot.run('{}')",
    ),
    "discord-webhook": _discord_webhook,
    "telegram-bot": _bare(
        "telegram-bot", lambda r: rand(r, 10, string.digits) + ":A" + "A" + _mixed(r, 33, B64URL), "bot = Bot('{}')"
    ),
    "azure-storage-connection-string": _azure,
    "jwt": _bare("jwt", _jwt, "headers = {{'Authorization': 'JWT {}'}}"),
    "pem-rsa": _pem_fake("pem-rsa", "RSA "),
    "pem-openssh": _pem_fake("pem-openssh", "OPENSSH "),
    "pem-pkcs8": _pem_fake("pem-pkcs8", ""),
    "pem-ec": _pem_fake("pem-ec", "EC "),
    "postgres-url": _url("postgres-url", "DATABASE_URL=postgresql://{userinfo}@db.internal:5432/app"),
    "mysql-url": _url(
        "mysql-url", "SQLALCHEMY_DATABASE_URI = 'mysql+pymysql://{userinfo}@localhost/shop'", alphabet=ALNUM
    ),
    "redis-url-no-user": _url("redis-url-no-user", "cache = Redis.from_url('redis://{userinfo}@cache:6379/0')", False),
    "https-basic-auth-url": _url("https-basic-auth-url", "pip install git+https://{userinfo}@git.example.com/r.git"),
    "env-password-quoted": _assignment("env-password-quoted", 'DB_PASSWORD="{}"', lambda r: _mixed(r, 16, PASSWORD)),
    "env-api-key-unquoted": _assignment("env-api-key-unquoted", "API_KEY={}", lambda r: _mixed(r, 32)),
    "yaml-password": _assignment("yaml-password", "  password: {}", lambda r: _mixed(r, 14, PASSWORD)),
    "json-secret": _assignment("json-secret", '{{"webhook_secret": "{}"}}', lambda r: _mixed(r, 40, B64URL)),
    "python-secret-key": _assignment("python-secret-key", 'SECRET_KEY = "{}"', lambda r: _mixed(r, 50, PASSWORD)),
    "bearer-header": _assignment(
        "bearer-header", "curl -H 'Authorization: Bearer {}' https://api", lambda r: _mixed(r, 40, B64URL)
    ),
    "high-entropy-base64": _assignment("high-entropy-base64", 'BLOB = "{}"', lambda r: _mixed(r, 48, B64) + "=="),
    "vault-token": _bare("vault-token", lambda r: "hv" + "s." + _mixed(r, 90, B64URL), "VAULT={}"),
}


def make(name: str, rng: random.Random) -> Fake:
    return FORMATS[name](rng)


def cases(rng: random.Random) -> list[Fake]:
    return [build(rng) for build in FORMATS.values()]
