"""The template registry and prompt rendering.

A template is a `NAME.md.j2` file of instructions (a review checklist, a question's guidance). A frame
(`_findings`, `_answers`, `_explain`) is the protocol around templates: it says how untrusted items are
delimited and what structure to answer in. Static instructions come first and the untrusted items last,
inside per-request random delimiters, so the provider's prompt cache can reuse the prefix and a payload
cannot close our delimiter.

Lookup order, later wins: built-ins < plugin folders < the user config dir < `.symphony-assist/templates/`
of the repository. Each template's sha256 goes into the cache key, so editing a template invalidates its
answers. Listing and hashing need only the stdlib (the cache-hit path); rendering imports jinja2.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from .request import Item

__all__ = ["FRAMES", "Registry", "Template", "load_registry", "render"]

SUFFIX = ".md.j2"
FRAMES = ("findings", "answer", "explain")
_FRAME_FILE = {"findings": "_findings", "answer": "_answers", "explain": "_explain"}
_META = re.compile(r"\{#-?\s*(\w+):\s*(.*?)\s*-?#\}")


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    source: str  # built-in | plugin | user | repository
    description: str
    kind: str  # findings | answer | explain
    text: str
    sha256: str

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


def _dir_templates(folder: Path, source: str) -> list[Template]:
    if not folder.is_dir():
        return []
    return [_load(p, source) for p in sorted(folder.glob("*" + SUFFIX)) if p.is_file()]


def _plugin_dirs() -> list[Path]:
    """Template folders from plugins. pluggy is loaded only when a third-party plugin is installed."""
    from ..plugins import builtin_template_dir, has_third_party_plugins, registered

    if not has_third_party_plugins():
        return [builtin_template_dir()]

    return [Path(args[0]) for args in registered("register_template_dirs")]


@functools.cache
def _cached_registry(project_root: Path | None, user_dir: Path | None) -> Registry:
    from ..plugins import builtin_template_dir

    builtin = builtin_template_dir().resolve()
    found: list[Template] = []
    for folder in _plugin_dirs():
        found += _dir_templates(folder, "built-in" if folder.resolve() == builtin else "plugin")
    if user_dir is not None:
        found += _dir_templates(user_dir, "user")
    repository = project_template_dir(project_root)
    if repository is not None:
        found += _dir_templates(repository, "repository")
    return Registry(found)


def user_template_dir() -> Path:
    """Where a user's own templates live: `<user config dir>/templates`."""
    from ..config import user_dirs

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


def render(registry: Registry, frame: str, templates: Sequence[str], items: Sequence[Item]) -> tuple[str, str]:
    """(system, user) messages for one request. jinja2 with StrictUndefined; imported only here."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)  # noqa: S701 - prompts, not HTML
    parts = [(name, env.from_string(registry.get(name).text).render().strip()) for name in templates]
    frame_t = env.from_string(registry.frame(frame).text)
    guidance = "\n\n".join(text for _, text in parts)
    system = frame_t.render(checklists=parts, guidance=guidance).strip()
    return system, render_items(items)


def render_plain(registry: Registry, template: str, item: Item) -> tuple[str, str]:
    """(system, user) for one plain question: the template's guidance, and the question as it was asked.

    No frame, no ids, no JSON: a plain chat completion, which any server and any model can answer.
    """
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)  # noqa: S701 - prompts, not HTML
    return env.from_string(registry.get(template).text).render().strip(), item.content
