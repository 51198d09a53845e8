"""The template registry and prompt rendering.

A template is a `NAME.md.j2` file of instructions (a review checklist, a question's guidance). A frame
(`_findings`, `_answers`, `_explain`) is the protocol around templates: it says how untrusted items are
delimited and what structure to answer in. Static instructions come first and the untrusted items last,
inside per-request random delimiters, so the provider's prompt cache can reuse the prefix and a payload
cannot close our delimiter.

Lookup order, later wins: built-ins < plugin folders < the user config dir < `.symphony-assist/templates/`
of the repository. Each template's sha256 goes into the cache key, so editing a template invalidates its
answers. Listing and hashing need only the stdlib (the cache-hit path); rendering imports jinja2.

Templates are text, not code: a repository's templates come from the code under review. They are
rendered in jinja2's `ImmutableSandboxedEnvironment` with no globals (no `cycler`, `lipsum`, `range`...),
string and list repetition capped, and output capped; a template that tries to reach Python internals
fails with one line naming its path (`TemplateRenderError`) and the run falls back to local analyzers.
A repository template that is a symlink, resolves outside the repository or is larger than
`MAX_TEMPLATE_BYTES` is never read. See docs/trust-boundary.md.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import builtin_template_dir, user_dirs
from ..errors import UsageError
from ..plugins import has_third_party_plugins, registered

if TYPE_CHECKING:
    from .request import Item

__all__ = ["FRAMES", "MAX_TEMPLATE_BYTES", "Registry", "Template", "TemplateRenderError", "load_registry", "render"]

SUFFIX = ".md.j2"
FRAMES = ("findings", "answer", "explain")
_FRAME_FILE = {"findings": "_findings", "answer": "_answers", "explain": "_explain"}
_META = re.compile(r"\{#-?\s*(\w+):\s*(.*?)\s*-?#\}")
MAX_TEMPLATE_BYTES = 256 << 10  # a checklist is a few KiB; a bigger repository template is refused unread
MAX_RENDERED_CHARS = 1 << 20  # a repeated string, a list or a whole rendered template


class TemplateRenderError(UsageError):
    """A template that cannot be rendered safely: one line naming its path and why."""


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    source: str  # built-in | plugin | user | repository
    description: str
    kind: str  # findings | answer | explain
    text: str
    sha256: str
    problem: str = ""  # why this template is refused unread ("" = usable)

    @property
    def hidden(self) -> bool:
        return self.name.startswith("_")


def _load(path: Path, source: str) -> Template:
    text = path.read_text(encoding="utf-8")
    meta = dict(_META.findall(text[:2000]))
    return Template(
        name=path.name[: -len(SUFFIX)],
        path=path,
        source=source,
        description=meta.get("description", ""),
        kind=meta.get("kind", "findings"),
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


class Registry:
    """Every template by name, after overrides. Returned by `load_registry` for programs that embed us."""

    def __init__(self, templates: Iterable[Template]) -> None:
        self._by_name: dict[str, Template] = {}
        for t in templates:
            self._by_name[t.name] = t

    def get(self, name: str) -> Template:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise UsageError(f"unknown template {name!r}: known templates are {known}") from None

    def names(self) -> list[str]:
        return sorted(n for n, t in self._by_name.items() if not t.hidden)

    def all(self) -> list[Template]:
        return [self._by_name[n] for n in self.names()]

    def frame(self, frame: str) -> Template:
        return self.get(_FRAME_FILE[frame])

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


def _refused(path: Path, source: str, problem: str) -> Template:
    return Template(
        name=path.name[: -len(SUFFIX)],
        path=path,
        source=source,
        description="",
        kind="findings",
        text="",
        sha256=hashlib.sha256(problem.encode("utf-8")).hexdigest(),
        problem=problem,
    )


def _repository_problem(path: Path, root: Path) -> str:
    """Why a repository template must not be read ("" when it may): the repository is data."""
    try:
        st = path.lstat()
    except OSError as exc:
        return f"is unreadable ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symlink (a repository template is read only when it is a regular file)"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if not path.resolve().is_relative_to(root):
        return "resolves outside the repository"
    if st.st_size > MAX_TEMPLATE_BYTES:
        return f"is {st.st_size} bytes (the limit is {MAX_TEMPLATE_BYTES})"
    return ""


def _dir_templates(folder: Path, source: str, root: Path | None = None) -> list[Template]:
    """Every `*.md.j2` in `folder`. With `root` (a repository's folder), symlinks, non-files and files that
    resolve outside `root` or are too large are refused unread (rendering them names the path and why)."""
    if not folder.is_dir():
        return []
    names = sorted(folder.glob("*" + SUFFIX))
    if root is None:
        return [_load(p, source) for p in names if p.is_file()]
    real_root = root.resolve()
    if folder.is_symlink() or not folder.resolve().is_relative_to(real_root):
        problem = "is in a folder that is a symlink or resolves outside the repository"
        return [_refused(p, source, problem) for p in names]
    found: list[Template] = []
    for p in names:
        problem = _repository_problem(p, real_root)
        found.append(_refused(p, source, problem) if problem else _load(p, source))
    return found


def _plugin_dirs() -> list[Path]:
    """Template folders from plugins. pluggy is loaded only when a third-party plugin is installed."""

    if not has_third_party_plugins():
        return [builtin_template_dir()]

    return [Path(args[0]) for args in registered("register_template_dirs")]


@functools.cache
def _cached_registry(project_root: Path | None, user_dir: Path | None) -> Registry:

    builtin = builtin_template_dir().resolve()
    found: list[Template] = []
    for folder in _plugin_dirs():
        found += _dir_templates(folder, "built-in" if folder.resolve() == builtin else "plugin")
    if user_dir is not None:
        found += _dir_templates(user_dir, "user")
    repository = project_template_dir(project_root)
    if repository is not None and project_root is not None:
        found += _dir_templates(repository, "repository", root=project_root)
    return Registry(found)


def user_template_dir() -> Path:
    """Where a user's own templates live: `<user config dir>/templates`."""

    return user_dirs()[1] / "templates"


def project_template_dir(project_root: Path | None) -> Path | None:
    """Where a repository's templates live: `.symphony-assist/templates` under its project root."""
    return None if project_root is None else project_root / ".symphony-assist" / "templates"


def load_registry(project_root: Path | None = None, user_dir: Path | None = None) -> Registry:
    """The registry for a repository (`project_root`) and a user config dir (`<dir>/templates`)."""
    return _cached_registry(project_root, user_dir / "templates" if user_dir is not None else user_template_dir())


def _nonce(items: Sequence[Item]) -> str:
    while True:
        nonce = secrets.token_hex(8)
        if not any(nonce in it.content or nonce in it.label for it in items):
            return nonce


def render_items(items: Sequence[Item]) -> str:
    """The untrusted part of a prompt: every item inside one pair of random delimiters.

    The system prompt says the items are data; the per-request nonce means no payload can close the
    delimiter (it would have to guess 64 random bits).
    """
    nonce = _nonce(items)
    parts = [f"<data-{nonce}>"]
    previous = None
    for it in items:
        label = ""
        if it.label:  # a file's later hunks say so instead of repeating its path
            label = " (same file)" if it.label == previous else f" {it.label}"
        previous = it.label
        parts.append(f"## {it.id}{label}\n{it.content}")
    parts.append(f"</data-{nonce}>")
    return "\n".join(parts)


def _environment() -> Any:
    """The one jinja2 environment: sandboxed, immutable, no globals, StrictUndefined. Imported only here."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Sandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and abs(right) > 64:
                raise jinja2.exceptions.SecurityError(f"exponent {right} is too large")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_RENDERED_CHARS:
                        raise jinja2.exceptions.SecurityError("the repeated value is too large")
            return super().call_binop(context, operator, left, right)

    env = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.globals.clear()  # cycler, joiner, lipsum, namespace, range, dict: a checklist needs none of them
    return env


def _render_one(env: Any, template: Template, **context: Any) -> str:
    """One template rendered in the sandbox, or `TemplateRenderError` naming its path and why."""
    import jinja2

    where = f"{template.source} template {template.path}"
    if template.problem:
        raise TemplateRenderError(f"{where} {template.problem}; it was not used")
    try:
        text = str(env.from_string(template.text).render(**context))
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateRenderError(
            f"{where} was refused by the template sandbox ({_one_line(exc)}); templates are text, not code"
        ) from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        at = f" line {line}" if line else ""
        raise TemplateRenderError(f"{where}{at} cannot be rendered ({type(exc).__name__}: {_one_line(exc)})") from None
    if len(text) > MAX_RENDERED_CHARS:
        raise TemplateRenderError(f"{where} renders to {len(text)} characters (the limit is {MAX_RENDERED_CHARS})")
    return text


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")


def render(registry: Registry, frame: str, templates: Sequence[str], items: Sequence[Item]) -> tuple[str, str]:
    """(system, user) messages for one request, rendered in the sandbox (`_environment`).

    Raises `TemplateRenderError` (one line naming the template's path) when a template is refused.
    """
    env = _environment()
    parts = [(name, _render_one(env, registry.get(name)).strip()) for name in templates]
    guidance = "\n\n".join(text for _, text in parts)
    system = _render_one(env, registry.frame(frame), checklists=parts, guidance=guidance).strip()
    return system, render_items(items)


def render_plain(registry: Registry, template: str, item: Item) -> tuple[str, str]:
    """(system, user) for one plain question: the template's guidance, and the question as it was asked.

    No frame, no ids, no JSON: a plain chat completion, which any server and any model can answer.
    """
    return _render_one(_environment(), registry.get(template)).strip(), item.content
