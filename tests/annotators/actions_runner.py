"""A Python port of how the GitHub Actions runner reads workflow commands from a log line.

Ported from actions/runner `src/Runner.Common/ActionCommand.cs` (TryParseV2, TryParse) and
`src/Runner.Worker/ActionCommandManager.cs` (TryProcessCommand, stop-commands), with .NET's
`String.Split(char[], count, RemoveEmptyEntries)` and `Trim()` semantics. Written independently of
the code under test so the tests can fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REGISTERED = frozenset(
    {
        "set-env", "set-output", "save-state", "add-mask", "add-path", "add-matcher", "remove-matcher",
        "debug", "warning", "error", "notice", "group", "endgroup", "echo", "stop-commands",
    }
)  # fmt: skip

# Char.IsWhiteSpace
WS = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
V2_DATA = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))
V2_PROPERTY = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))
LEGACY = (("%3B", ";"), ("%0D", "\r"), ("%0A", "\n"), ("%5D", "]"), ("%25", "%"))


def trim_start(s: str) -> str:
    i = 0
    while i < len(s) and s[i] in WS:
        i += 1
    return s[i:]


def trim(s: str) -> str:
    s = trim_start(s)
    j = len(s)
    while j > 0 and s[j - 1] in WS:
        j -= 1
    return s[:j]


def unescape(s: str, mappings: tuple[tuple[str, str], ...]) -> str:
    for escaped, plain in mappings:
        s = s.replace(escaped, plain)
    return s


def dotnet_split(s: str, sep: str, count: int | None = None, remove_empty: bool = True) -> list[str]:
    """String.Split(new[]{sep}, count, RemoveEmptyEntries) as in .NET 5+ (SplitWithPostProcessing)."""
    positions = [i for i, c in enumerate(s) if c == sep]
    if count is None:
        parts = s.split(sep)
        return [p for p in parts if p] if remove_empty else parts
    out: list[str] = []
    cur = 0
    i = 0
    n = len(positions)
    while i < n:
        entry = s[cur : positions[i]]
        if entry or not remove_empty:
            out.append(entry)
        cur = positions[i] + 1
        if len(out) == count - 1:
            if remove_empty:
                i += 1
                while i < n:
                    entry = s[cur : positions[i]]
                    if entry:
                        break
                    cur = positions[i] + 1
                    i += 1
            break
        i += 1
    last = s[cur:]
    if last or not remove_empty:
        out.append(last)
    return out


@dataclass
class Command:
    name: str
    properties: dict[str, str] = field(default_factory=dict)
    data: str = ""
    legacy: bool = False


def parse_v2(message: str) -> Command | None:
    if not message:
        return None
    message = trim_start(message)
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name not in REGISTERED:
        return None
    cmd = Command(name)
    if space > 0:
        for prop in dotnet_split(trim(info[space + 1 :]), ","):
            pair = dotnet_split(prop, "=", 2)
            if len(pair) == 2:
                cmd.properties[pair[0]] = unescape(pair[1], V2_PROPERTY)
    cmd.data = unescape(message[end + 2 :], V2_DATA)
    return cmd


def parse_legacy(message: str) -> Command | None:
    if not message:
        return None
    start = message.find("##[")
    if start < 0:
        return None
    rb = message.find("]", start)
    if rb < 0:
        return None
    info = message[start + 3 : rb]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name not in REGISTERED:
        return None
    cmd = Command(name, legacy=True)
    if space > 0:
        for prop in dotnet_split(info[space + 1 :], ";"):
            pair = dotnet_split(prop, "=", 2)
            if len(pair) == 2:
                cmd.properties[pair[0]] = unescape(pair[1], LEGACY)
    cmd.data = unescape(message[rb + 1 :], LEGACY)
    return cmd


def parse(line: str) -> Command | None:
    """TryProcessCommand's parse step: V2 first, the legacy form only if V2 fails."""
    return parse_v2(line) or parse_legacy(line)


def log_lines(output: str) -> list[str]:
    """How the runner splits a step's stdout into lines (StreamReader.ReadLine: \\r, \\n, \\r\\n)."""
    return output.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def executed(output: str) -> list[Command]:
    """The commands the runner would execute for `output`, honouring stop-commands/resume."""
    stop_token: str | None = None
    registered = set(REGISTERED)
    done: list[Command] = []
    for line in log_lines(output):
        if stop_token is not None:
            v2 = parse_v2(line)
            if v2 is None and trim_start(line).startswith("::" + stop_token + "::"):
                # the resume token is registered while commands are stopped
                v2 = Command(stop_token)
            if v2 is not None and v2.name.lower() == stop_token.lower():
                registered.discard(stop_token)
                stop_token = None
            continue
        cmd = parse(line)
        if cmd is None:
            continue
        if cmd.name == "stop-commands":
            if not cmd.data or cmd.data in REGISTERED:
                raise ValueError(f"the runner rejects stop token {cmd.data!r}")
            stop_token = cmd.data
            registered.add(stop_token)
        done.append(cmd)
    return done
