"""Explainers for a test that reached outside itself and failed: a file that is missing or forbidden, a network
service that is not there. Each says where the test looked and how to keep a unit test self-contained.
"""

from __future__ import annotations

import re

from .context import Context, Verdict

__all__ = ["file_error", "network"]


_PATH_IN_MESSAGE = re.compile(r"(?::\s*)?'(?P<path>[^']+)'\s*$")


def file_error(ctx: Context) -> Verdict | None:
    frame = ctx.inner
    m = _PATH_IN_MESSAGE.search(ctx.message)
    path = m.group("path") if m else ""
    where = f"{ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}"
    if ctx.short == "PermissionError":
        return Verdict(
            "permission-error",
            f"`{ctx.test}` was denied access to `{path or 'a file'}` ({ctx.message}) at {where}.",
            "Write to a test-owned location (pytest's `tmp_path`) instead of a system path, and check the "
            "file's mode and owner if the code really must use it.",
        )
    if ctx.short in {"FileNotFoundError", "IsADirectoryError", "NotADirectoryError"}:
        relative = bool(path) and not path.startswith(("/", "\\")) and not re.match(r"^[A-Za-z]:", path)
        if relative:
            reason = (
                f"`{path}` is a relative path, resolved against the directory pytest runs in, not against the test file"
            )
            fix = (
                f'Build the path from the test file: `Path(__file__).parent / "{path}"`, or create the file '
                "in `tmp_path` first."
            )
        else:
            reason = f"`{path}` does not exist when the code opens it (nothing created it first)"
            fix = (
                "Create the file in the test's arrange step (e.g. `(tmp_path / 'x.json').write_text(...)`) "
                "or pass the path of a fixture file that is committed."
            )
        return Verdict("file-not-found", f"`{ctx.test}`: {reason} ({ctx.short}) at {where}.", fix)
    return None


_NETWORK_TYPES = {
    "ConnectionRefusedError",
    "ConnectionResetError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "ConnectTimeoutError",
    "NewConnectionError",
    "MaxRetryError",
    "gaierror",
    "herror",
    "URLError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "RemoteProtocolError",
    "ProxyError",
    "SSLError",
    "NameResolutionError",
    "timeout",
    "TimeoutException",
    "NetworkError",
}
_NETWORK_TEXT = re.compile(
    r"Connection refused|Name or service not known|Network is unreachable|"
    r"Temporary failure in name resolution|No route to host|Failed to establish a new connection"
)


def network(ctx: Context) -> Verdict | None:
    text = " ".join([ctx.message, *ctx.parsed.causes])
    if ctx.short not in _NETWORK_TYPES and not _NETWORK_TEXT.search(text):
        return None
    frame = ctx.inner
    host = re.search(r"host='(?P<h>[^']+)', port=(?P<p>\d+)", text)
    address = f"{host.group('h')}:{host.group('p')}" if host else ""
    if not address:
        for f in reversed(ctx.parsed.frames):
            if a := re.search(r"\('(?P<h>[\w.:-]+)', (?P<p>\d+)\)", " ".join([*f.locals.values(), f.failing])):
                address = f"{a.group('h')}:{a.group('p')}"
                break
    target = f" at {address}" if address else ""
    return Verdict(
        "network-error",
        f"`{ctx.test}` tried to reach a network service{target} and failed ({ctx.short}: {ctx.message[:160]}) at "
        f"{ctx.at(frame)}{ctx.line_of(frame)}{ctx.via()}: nothing is listening there, or the network is not "
        "available in the test run.",
        "Do not depend on a live service in a unit test: mock the client (responses / respx / "
        "`monkeypatch.setattr`) or start a local server in a fixture; mark real integration tests "
        "(`@pytest.mark.integration`) and skip them when the service is absent.",
    )
