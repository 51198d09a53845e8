"""Repository and user templates are text, not code (issue 16, point 1; docs/trust-boundary.md).

Every classic jinja2 sandbox escape is planted in a repository template, as a hostile pull request would,
and rendered: each must fail with one line naming the template's path (or render inert), and none may run
anything: every payload tries to create a marker file, and the marker must never exist. The end-to-end
tests run `symphony-assist review` (staged and `--rev`) in a real git repository against the fake server.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from fakeserver import FakeOpenAI
from gitrepo import GitRepo
from responders import answering

from symphony_assist_hooks.assistant.prompts import (
    MAX_TEMPLATE_BYTES,
    TemplateRenderError,
    load_registry,
    render,
    render_plain,
)
from symphony_assist_hooks.assistant.request import Item
from symphony_assist_hooks.cli import main

pytestmark = pytest.mark.hardening_hostile_input  # a hostile repository is hostile input


def _escapes(marker: Path) -> dict[str, str]:
    """name -> template text; each would create `marker` if it escaped the sandbox."""
    cmd = shlex.quote(f"touch {marker}")
    sh = f"os.system({cmd!r})"
    popen = f"__import__('os').system({cmd!r})"
    return {
        "cycler": f"{{{{ cycler.__init__.__globals__.os.system({cmd!r}) }}}}",
        "lipsum": f"{{{{ lipsum.__globals__['os'].system({cmd!r}) }}}}",
        "lipsum-builtins": f"{{{{ lipsum.__globals__.__builtins__.__import__('os').system({cmd!r}) }}}}",
        "joiner": f"{{{{ joiner.__init__.__globals__.os.system({cmd!r}) }}}}",
        "namespace": f"{{{{ namespace.__init__.__globals__.os.system({cmd!r}) }}}}",
        "self": f"{{{{ self.__init__.__globals__.__builtins__.__import__('os').system({cmd!r}) }}}}",
        "self-dict": "{{ self._TemplateReference__context.cycler.__init__.__globals__." + sh + " }}",
        "config": "{{ config.__class__.__init__.__globals__['os']." + sh + " }}",
        "request": "{{ request.application.__globals__.__builtins__." + popen + " }}",
        "mro-subclasses": (
            "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'catch_warnings' %}"
            "{{ c()._module.__builtins__['__import__']('os').system(" + repr(f"touch {marker}") + ") }}"
            "{% endif %}{% endfor %}"
        ),
        "base-subclasses": "{{ ().__class__.__base__.__subclasses__() }}",
        "attr-filter": (
            "{{ ''|attr('__class__')|attr('__mro__')|last|attr('__subclasses__')() }}"
            "{{ cycler|attr('__init__')|attr('__globals__') }}"
        ),
        "format-string": "{{ '{0.__class__.__mro__[1].__subclasses__}'.format('') }}",
        "format-globals": "{{ '{0.__init__.__globals__}'.format(cycler) }}",
        "format-map": "{{ '{x.__class__}'.format_map({'x': ''}) }}",
        "str-format-filter": "{{ '%s'|format(''.__class__.__mro__) }}",
        "getattr-builtin": "{{ ''.__class__.__base__ }}",
        "func-globals": "{{ (lambda: 0) }}",
        "mutate-list": "{% set x = [] %}{{ x.append(1) }}{{ x }}",
        "mutate-dict": "{% set d = {} %}{{ d.update({'a': 1}) }}",
        "range-bomb": "{% for i in range(10**9) %}{% endfor %}",
        "repeat-bomb": "{{ 'x' * 10**10 }}",
        "power-bomb": "{{ 9 ** 9 ** 9 }}",
        "power-bomb-2": "{{ 9 ** 999999999 }}",
        "undefined": "{{ nothing_here }}",
        "import": "{% import 'os' as os %}{{ os.system('true') }}",
        "include": "{% include '/etc/passwd' %}",
    }


def _repo_with(tmp_path: Path, name: str, text: str) -> Path:
    repo = tmp_path / "repo"
    folder = repo / ".symphony-assist" / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md.j2").write_text(text, encoding="utf-8")
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    return repo


@pytest.mark.parametrize("escape", sorted(_escapes(Path("m")).keys()))
def test_a_plain_question_renders_a_repository_template_in_the_sandbox_too(tmp_path: Path, escape: str) -> None:
    """`query` with one prompt is a plain chat completion (render_plain): the same sandbox as reviews."""
    marker = tmp_path / "escaped"
    repo = _repo_with(tmp_path, "general", "{#- description: hostile -#}\n" + _escapes(marker)[escape] + "\n")
    reg = load_registry(repo, tmp_path / "cfg")
    assert reg.get("general").source == "repository"
    try:
        system, _ = render_plain(reg, "general", Item("q1", "what does git rerere do?", ""))
    except TemplateRenderError as exc:
        message = str(exc)
        assert "\n" not in message
        assert str(reg.get("general").path) in message
    else:
        for leak in ("<function", "<class", "<built-in", "<module", "__globals__", "subprocess"):
            assert leak not in system, (escape, system[:300])
    assert not marker.exists()


@pytest.mark.parametrize("escape", sorted(_escapes(Path("m")).keys()))
def test_a_repository_template_cannot_reach_python(tmp_path: Path, escape: str) -> None:
    marker = tmp_path / "escaped"
    text = _escapes(marker)[escape]
    repo = _repo_with(tmp_path, "security", "{#- description: hostile -#}\n" + text + "\n")
    reg = load_registry(repo, tmp_path / "cfg")
    template = reg.get("security")
    assert template.source == "repository"
    try:
        system, _ = render(reg, "findings", ["security"], [Item("h1", "x = 1", "a.py")])
    except TemplateRenderError as exc:
        message = str(exc)
        assert "\n" not in message
        assert str(template.path) in message
        assert "Traceback" not in message
    else:  # rendered inert: no Python object leaked into the prompt
        for leak in ("<function", "<class", "<built-in", "<module", "__globals__", "subprocess"):
            assert leak not in system, (escape, system[:300])
    assert not marker.exists()


@pytest.mark.parametrize("escape", sorted(_escapes(Path("m")).keys()))
def test_the_sandbox_alone_stops_each_escape_even_with_jinja2s_default_globals(tmp_path: Path, escape: str) -> None:
    """Defence in depth: with the sandbox's own globals (`cycler`, `lipsum`, `joiner`, `namespace`, a
    bounded `range`) put back, the sandbox itself
    must refuse (SecurityError) or leave the payload inert; removing the globals is not what stops it."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from symphony_assist_hooks.assistant.prompts import _environment

    marker = tmp_path / "escaped"
    env = _environment()
    env.globals.update(ImmutableSandboxedEnvironment().globals)  # the sandbox's own (range is safe_range)
    env.globals.update(config={"SECRET": "x"}, request=object())
    try:
        out = env.from_string(_escapes(marker)[escape]).render()
    except (jinja2.TemplateError, TypeError, ArithmeticError):
        pass
    else:
        for leak in ("<function", "<class", "<built-in", "<module", "__globals__"):
            assert leak not in out, (escape, out[:300])
    assert not marker.exists()


def test_a_refused_template_says_what_to_do_in_one_line(tmp_path: Path) -> None:
    repo = _repo_with(tmp_path, "security", "{{ cycler.__init__.__globals__.os.system('true') }}\n")
    reg = load_registry(repo, tmp_path / "cfg")
    with pytest.raises(TemplateRenderError) as info:
        render(reg, "findings", ["security"], [Item("h1", "x = 1", "a.py")])
    message = str(info.value)
    assert message.startswith(f"repository template {repo / '.symphony-assist' / 'templates' / 'security.md.j2'}")
    assert "sandbox" in message and "templates are text, not code" in message


def test_plain_templates_still_render_with_loops_and_filters(tmp_path: Path) -> None:
    text = "{#- description: ok -#}\n{% set items = ['a', 'b'] %}{% for i in items %}- {{ i|upper }}\n{% endfor %}"
    repo = _repo_with(tmp_path, "mine", text)
    system, _ = render(load_registry(repo, tmp_path / "cfg"), "findings", ["mine"], [Item("h1", "x", "a.py")])
    assert "- A\n- B" in system


def test_user_templates_are_sandboxed_too(tmp_path: Path) -> None:
    marker = tmp_path / "escaped"
    user = tmp_path / "cfg"
    (user / "templates").mkdir(parents=True)
    (user / "templates" / "security.md.j2").write_text(_escapes(marker)["cycler"], encoding="utf-8")
    reg = load_registry(tmp_path / "norepo", user)
    with pytest.raises(TemplateRenderError, match="user template"):
        render(reg, "findings", ["security"], [Item("h1", "x", "a.py")])
    assert not marker.exists()


def test_a_frame_overridden_by_the_repository_is_sandboxed(tmp_path: Path) -> None:
    marker = tmp_path / "escaped"
    repo = _repo_with(tmp_path, "_findings", _escapes(marker)["lipsum"])
    with pytest.raises(TemplateRenderError, match=r"_findings\.md\.j2"):
        render(load_registry(repo, tmp_path / "cfg"), "findings", ["security"], [Item("h1", "x", "a.py")])
    assert not marker.exists()


def test_a_symlinked_repository_template_is_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside-secret.txt"
    secret = "not-for-the-model-" + os.urandom(6).hex()
    outside.write_text(secret, encoding="utf-8")
    repo = _repo_with(tmp_path, "other", "x")
    link = repo / ".symphony-assist" / "templates" / "security.md.j2"
    link.symlink_to(outside)
    reg = load_registry(repo, tmp_path / "cfg")
    assert secret not in reg.get("security").text
    with pytest.raises(TemplateRenderError, match="is a symlink"):
        render(reg, "findings", ["security"], [Item("h1", "x", "a.py")])


def test_a_symlinked_templates_folder_is_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = "not-for-the-model-" + os.urandom(6).hex()
    (outside / "security.md.j2").write_text(secret, encoding="utf-8")
    repo = tmp_path / "repo"
    (repo / ".symphony-assist").mkdir(parents=True)
    (repo / ".symphony-assist" / "templates").symlink_to(outside)
    reg = load_registry(repo, tmp_path / "cfg")
    assert secret not in reg.get("security").text
    with pytest.raises(TemplateRenderError, match="outside the repository"):
        render(reg, "findings", ["security"], [Item("h1", "x", "a.py")])


def test_the_templates_listing_says_a_template_is_refused(
    git_repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.write("pyproject.toml", "[project]\nname = 'x'\n")
    (tmp_path / "outside.md.j2").write_text("{#- description: outside -#}\nx\n", encoding="utf-8")
    (git_repo.path / ".symphony-assist" / "templates").mkdir(parents=True)
    (git_repo.path / ".symphony-assist" / "templates" / "linked.md.j2").symlink_to(tmp_path / "outside.md.j2")
    assert main(["templates"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("linked"))
    assert "repository" in line and "refused: is a symlink" in line and "outside" not in line.split("refused")[0]


def test_a_fifo_named_like_a_template_is_refused_without_blocking(tmp_path: Path) -> None:
    repo = _repo_with(tmp_path, "other", "x")
    os.mkfifo(repo / ".symphony-assist" / "templates" / "security.md.j2")  # reading it would block forever
    reg = load_registry(repo, tmp_path / "cfg")
    with pytest.raises(TemplateRenderError, match="not a regular file"):
        render(reg, "findings", ["security"], [Item("h1", "x", "a.py")])


def test_a_huge_repository_template_is_refused_unread(tmp_path: Path) -> None:
    repo = _repo_with(tmp_path, "security", "x" * (MAX_TEMPLATE_BYTES + 1))
    reg = load_registry(repo, tmp_path / "cfg")
    assert reg.get("security").text == ""
    with pytest.raises(TemplateRenderError, match="bytes"):
        render(reg, "findings", ["security"], [Item("h1", "x", "a.py")])


# ====================================================================================== end to end
def _hostile_repo(git_repo: GitRepo, marker: Path) -> None:
    git_repo.write("pyproject.toml", "[project]\nname = 'victim'\n")
    git_repo.write("app.py", "x = 1\n")
    git_repo.add()
    git_repo.commit("base")
    git_repo.run("branch", "base")
    text = "{#- description: security -#}\n" + _escapes(marker)["cycler"] + "\n"
    git_repo.write(".symphony-assist/templates/security.md.j2", text)
    git_repo.write("app.py", "x = 1\nimport os\nos.system(input())\n")
    git_repo.add()


@pytest.mark.parametrize("mode", ["staged", "rev"])
def test_review_with_a_hostile_repository_template_runs_nothing_and_falls_back(
    git_repo: GitRepo, keyed: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    marker = tmp_path / "pwned"
    _hostile_repo(git_repo, marker)
    keyed.responder = answering()
    args = ["review", "--template", "security", "--format", "text", "--fail-on", "never"]
    if mode == "rev":
        git_repo.commit("pr")
        args += ["--rev", "base...HEAD"]
    code = main(args)
    out, err = capsys.readouterr()
    assert not marker.exists()
    assert code == 0
    assert keyed.chat_requests == []  # nothing rendered, so nothing sent
    lines = [ln for ln in (out + err).splitlines() if "security.md.j2" in ln]
    assert lines, out + err
    assert all("sandbox" in ln for ln in lines)
    assert "Traceback" not in out + err
    assert "os.system" in out or "subprocess" in out or "command" in out.lower()  # local analyzers still answered
