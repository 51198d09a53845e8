"""git.py against real temporary repositories (docs/reference.md#git-inputs)."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
from gitrepo import GitRepo
from hypothesis import given, settings
from hypothesis import strategies as st

from symphony_assist_hooks.errors import GitError
from symphony_assist_hooks.git import changes as git
from symphony_assist_hooks.git import listing as gitdiff
from symphony_assist_hooks.git import process as gitcli
from symphony_assist_hooks.git.changes import EMPTY_TREE, Changes, FileDiff, Hunk, Line, parse_patch

NUMBERS = "".join(f"line {i}\n" for i in range(1, 101))


def by_path(changes: Changes) -> dict[str, FileDiff]:
    return {f.path: f for f in changes.files}


def added_text(f: FileDiff) -> list[str]:
    return [ln.text for h in f.hunks for ln in h.lines if ln.kind == "+"]


@pytest.fixture
def committed(git_repo: GitRepo) -> GitRepo:
    """A repository with one commit: a.py (100 lines), b.py, c.py."""
    git_repo.commit_files({"a.py": NUMBERS, "b.py": "x = 1\ny = 2\n", "c.py": "print('c')\n"}, "base")
    return git_repo


# ---------------------------------------------------------------------------------------------- staged
def test_staged_add_modify_delete_rename(committed: GitRepo) -> None:
    committed.write("a.py", NUMBERS.replace("line 50\n", "line fifty\n"))
    committed.write("new.py", "def f():\n    return 1\n")
    committed.run("rm", "-q", "b.py")
    committed.run("mv", "c.py", "d.py")
    committed.write("d.py", "print('c')\nprint('d')\n")
    committed.add()

    changes = git.staged()
    files = by_path(changes)
    assert changes.source == "staged"
    assert set(files) == {"a.py", "new.py", "d.py"}

    a = files["a.py"]
    assert (a.status, a.old_path, a.language) == ("M", None, "python")
    (hunk,) = a.hunks
    assert hunk.added_lines == (50,)
    assert hunk.removed_lines == (50,)
    assert [(ln.kind, ln.text) for ln in hunk.lines] == [
        (" ", "line 49"),
        ("-", "line 50"),
        ("+", "line fifty"),
        (" ", "line 51"),
    ]  # fmt: skip  (context=1 by default)

    assert files["new.py"].status == "A"
    assert added_text(files["new.py"]) == ["def f():", "    return 1"]
    assert (files["d.py"].status, files["d.py"].old_path) == ("R", "c.py")
    assert added_text(files["d.py"]) == ["print('d')"]

    assert changes.skipped == {"deleted": 1}
    assert changes.omitted == (("b.py", "deleted"),)
    (removed,) = changes.deleted
    assert removed.path == "b.py"
    assert [ln.kind for h in removed.hunks for ln in h.lines] == ["-", "-"]


def test_context_lines_are_honoured(committed: GitRepo) -> None:
    committed.write("a.py", NUMBERS.replace("line 50\n", "line fifty\n"))
    committed.add()
    (hunk,) = git.staged(context=3).files[0].hunks
    assert (hunk.old_start, hunk.old_len, hunk.new_start, hunk.new_len) == (47, 7, 47, 7)
    (hunk,) = git.staged(context=0).files[0].hunks
    assert [ln.kind for ln in hunk.lines] == ["-", "+"]


@pytest.mark.hardening_hostile_input
def test_initial_commit_without_head(git_repo: GitRepo) -> None:
    git_repo.write("first.py", "print('hello')\n")
    git_repo.add()
    (f,) = git.staged().files
    assert (f.path, f.status, added_text(f)) == ("first.py", "A", ["print('hello')"])
    assert git.file_text("first.py") == "print('hello')\n"


def test_nothing_staged(committed: GitRepo) -> None:
    committed.write("a.py", "unstaged change\n")  # the work tree is never read
    assert git.staged() == Changes((), {}, "staged")


def test_unstaged_changes_next_to_staged_ones_are_not_seen(committed: GitRepo) -> None:
    committed.write("b.py", "x = 1\ny = 3\n")
    committed.add("b.py")
    committed.write("b.py", "x = 1\ny = 3\nz = 'not staged'\n")
    (f,) = git.staged().files
    assert added_text(f) == ["y = 3"]
    assert git.file_text("b.py") == "x = 1\ny = 3\n"  # the index version, not the work tree


def test_detached_head(committed: GitRepo) -> None:
    first = committed.head()
    committed.commit_files({"b.py": "x = 10\n"}, "second")
    committed.run("checkout", "-q", "--detach", first)
    committed.write("c.py", "print('detached')\n")
    committed.add()
    assert added_text(git.staged().files[0]) == ["print('detached')"]
    assert [f.path for f in git.revision_range(f"{first}..main").files] == ["b.py"]


# ---------------------------------------------------------------------------------------------- ranges
@pytest.fixture
def diverged(committed: GitRepo) -> GitRepo:
    """main: base -> M (edits b.py); feature: base -> F (adds f.py)."""
    committed.run("checkout", "-q", "-b", "feature")
    committed.commit_files({"f.py": "feature = True\n"}, "F")
    committed.run("checkout", "-q", "main")
    committed.commit_files({"b.py": "x = 1\ny = 20\n"}, "M")
    return committed


def test_range_two_dots_compares_the_tips(diverged: GitRepo) -> None:
    changes = git.revision_range("main..feature")
    assert changes.source == "main..feature"
    files = by_path(changes)
    assert set(files) == {"f.py", "b.py"}  # b.py: feature lacks main's edit
    assert added_text(files["b.py"]) == ["y = 2"]


def test_range_three_dots_starts_at_the_merge_base(diverged: GitRepo) -> None:
    changes = git.revision_range("main...feature")
    assert [f.path for f in changes.files] == ["f.py"]
    assert git.file_text("f.py", changes.source) == "feature = True\n"
    assert git.file_text("b.py", "main...feature") == "x = 1\ny = 2\n"  # the B side
    assert git.file_text("f.py", "feature..main") is None  # not on the B side


def test_an_empty_side_of_a_range_is_head(diverged: GitRepo) -> None:
    assert [f.path for f in git.revision_range("feature..").files] == [
        f.path for f in git.revision_range("feature..HEAD").files
    ]


@pytest.mark.parametrize("spec", ["nope..main", "main..nope", "main", "--output=/tmp/x..main", "main..a b"])
@pytest.mark.hardening_hostile_input
def test_a_bad_range_is_one_clear_error(diverged: GitRepo, spec: str) -> None:
    with pytest.raises(GitError) as err:
        git.revision_range(spec)
    assert repr(spec) in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == 2
    assert not Path("/tmp/x").exists() or spec != "--output=/tmp/x..main"


def test_unrelated_histories_have_no_merge_base(diverged: GitRepo) -> None:
    diverged.run("checkout", "-q", "--orphan", "lonely")
    diverged.commit_files({"z.py": "z = 1\n"}, "orphan")
    with pytest.raises(GitError, match="no merge base"):
        git.revision_range("main...lonely")


def test_from_env_reads_pre_commits_refs(diverged: GitRepo) -> None:
    assert git.from_env({}) is None
    changes = git.from_env({"PRE_COMMIT_FROM_REF": "main", "PRE_COMMIT_TO_REF": "feature"})
    assert changes is not None
    assert changes.source == "main...feature"
    assert [f.path for f in changes.files] == ["f.py"]
    new_branch = git.from_env({"PRE_COMMIT_FROM_REF": "0" * 40, "PRE_COMMIT_TO_REF": "feature"})
    assert new_branch is not None
    assert sorted(f.path for f in new_branch.files) == ["a.py", "b.py", "c.py", "f.py"]
    assert git.file_text("f.py", new_branch.source) == "feature = True\n"


def test_all_files(committed: GitRepo) -> None:
    committed.write("c.py", "print('staged')\n")
    committed.add()
    changes = git.all_files()
    assert changes.source == "all-files"
    files = by_path(changes)
    assert set(files) == {"a.py", "b.py", "c.py"}
    assert all(f.status == "A" for f in changes.files)
    assert len(files["a.py"].hunks[0].added_lines) == 100
    assert added_text(files["c.py"]) == ["print('staged')"]  # the index version
    assert [f.path for f in git.all_files(["b.py"]).files] == ["b.py"]
    assert git.all_files(exclude=["a.py", "b.py"]).skipped == {"excluded": 2}


def test_all_files_in_an_empty_repository(git_repo: GitRepo) -> None:
    assert git.all_files().files == ()


# ---------------------------------------------------------------------------------------------- skipping
@pytest.mark.hardening_hostile_input
def test_binary_files_are_skipped(committed: GitRepo) -> None:
    committed.write("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    committed.write("data.bin", b"abc\x00def")
    committed.add()
    changes = git.staged()
    assert changes.files == ()
    assert changes.skipped == {"binary": 2}


@pytest.mark.hardening_hostile_input
def test_a_mode_only_change_is_skipped(committed: GitRepo) -> None:
    os.chmod(committed.path / "b.py", 0o755)
    committed.add()
    assert git.staged().skipped == {"mode-only": 1}


def test_a_mode_change_with_content_is_reviewed(committed: GitRepo) -> None:
    committed.write("b.py", "x = 1\ny = 3\n", executable=True)
    committed.add()
    (f,) = git.staged().files
    assert not f.mode_only
    assert added_text(f) == ["y = 3"]


@pytest.mark.hardening_hostile_input
def test_a_symlink_is_never_followed(committed: GitRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("the content of a file outside the repository\n")
    committed.symlink("link", str(outside))
    committed.add()
    changes = git.staged()
    assert changes.files == ()
    assert changes.skipped == {"symlink": 1}


def test_a_symlink_replaced_by_a_file_is_reviewed(committed: GitRepo) -> None:
    committed.symlink("link", "a.py")
    committed.add()
    committed.commit("link")
    (committed.path / "link").unlink()
    committed.write("link", "now a file\n")
    committed.add()
    (f,) = git.staged().files
    assert (f.path, f.status, added_text(f)) == ("link", "T", ["now a file"])
    assert all(ln.kind == "+" for h in f.hunks for ln in h.lines)  # not the old link target


@pytest.mark.hardening_hostile_input
def test_a_submodule_is_not_recursed(committed: GitRepo, tmp_path: Path) -> None:
    sub = GitRepo(tmp_path / "sub")
    sub.commit_files({"inner.py": "inner = 1\n"}, "sub")
    committed.run("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendored_sub")
    changes = git.staged()
    assert "submodule" in changes.skipped
    assert all(f.path != "vendored_sub" for f in changes.files)
    assert [f.path for f in changes.files] == [".gitmodules"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("poetry.lock", "lock-file"),
        ("frontend/package-lock.json", "lock-file"),
        ("uv.lock", "lock-file"),
        ("Cargo.lock", "lock-file"),
        ("custom.lock", "lock-file"),
        ("vendor/lib.py", "vendored"),
        ("web/node_modules/pkg/index.js", "vendored"),
        ("third_party/x/y.c", "vendored"),
        ("proto/api_pb2.py", "generated"),
        ("static/app.min.js", "minified"),
        ("static/site.min.css", "minified"),
        (".env", "sensitive"),
        ("deploy/server.pem", "sensitive"),
    ],
)
@pytest.mark.hardening_hostile_input
def test_skipped_by_name(git_repo: GitRepo, path: str, reason: str) -> None:
    git_repo.write(path, "content = 1\n")
    git_repo.add()
    changes = git.staged()
    assert changes.files == ()
    assert changes.omitted == ((path, reason),)
    assert changes.skipped == {reason: 1}
    assert changes.deleted == ()


def test_generated_markers_and_gitattributes(git_repo: GitRepo) -> None:
    git_repo.write("gen.py", "# Code generated by protoc-gen-go. DO NOT EDIT.\nx = 1\n")
    git_repo.write("schema.py", '"""@generated by tool"""\nX = 1\n')
    git_repo.write("models/auto.py", "class Auto: ...\n")
    git_repo.write("libs/thing.js", "export default 1;\n")
    git_repo.write("normal.py", "# generated reports live in out/\nx = 1\n")
    git_repo.write(".gitattributes", "models/** linguist-generated\nlibs/** linguist-vendored=true\n")
    git_repo.add()
    changes = git.staged()
    assert sorted(f.path for f in changes.files) == [".gitattributes", "normal.py"]
    assert changes.skipped == {"generated": 3, "vendored": 1}


def test_a_minified_line_in_a_js_file(git_repo: GitRepo) -> None:
    git_repo.write("bundle.js", "var a=" + "1+" * 800 + "1;\n")
    git_repo.write("long.py", "X = '" + "a" * 2000 + "'\n")  # not minifiable: still reviewed
    git_repo.add()
    changes = git.staged()
    assert [f.path for f in changes.files] == ["long.py"]
    assert changes.skipped == {"minified": 1}


@pytest.mark.hardening_hostile_input
def test_too_large_files_are_never_read(git_repo: GitRepo) -> None:
    git_repo.write("big.py", "x = 1\n" * 1000)
    git_repo.write("small.py", "y = 2\n")
    git_repo.add()
    changes = git.staged(max_file_bytes=1000)
    assert [f.path for f in changes.files] == ["small.py"]
    assert changes.skipped == {"too-large": 1}
    assert git.file_text("big.py", max_bytes=1000) is None


def test_include_and_exclude_globs(git_repo: GitRepo) -> None:
    for path in ("src/a.py", "src/b.js", "docs/c.md", "tests/test_a.py"):
        git_repo.write(path, "x\n")
    git_repo.add()
    assert sorted(f.path for f in git.staged(include=["*.py"]).files) == ["src/a.py", "tests/test_a.py"]
    assert sorted(f.path for f in git.staged(exclude=["tests/", "*.md"]).files) == ["src/a.py", "src/b.js"]
    assert [f.path for f in git.staged(include=["src/*"], exclude=["*.js"]).files] == ["src/a.py"]
    assert git.staged(include=["src/*"], exclude=["*.js"]).skipped == {"excluded": 3}


def test_paths_select_files(git_repo: GitRepo) -> None:
    for path in ("src/a.py", "src/b.py", "other.py"):
        git_repo.write(path, "x\n")
    git_repo.add()
    assert sorted(f.path for f in git.staged(paths=["src"]).files) == ["src/a.py", "src/b.py"]
    assert [f.path for f in git.staged(paths=["other.py"]).files] == ["other.py"]
    assert [f.path for f in git.staged(paths=["b.py"], cwd=git_repo.path / "src").files] == ["src/b.py"]
    os.chdir("src")
    assert [f.path for f in git.staged(paths=["b.py"]).files] == ["src/b.py"]  # relative to the cwd
    assert len(git.staged(paths=[".."]).files) == 3


@pytest.mark.hardening_hostile_input
def test_a_deleted_file_with_a_secret_is_only_exposed_for_scanning(committed: GitRepo) -> None:
    token = "gh" + "p_" + "".join(random.choice("abcdefXYZ0123456789") for _ in range(36))
    committed.commit_files({"settings.py": f"TOKEN = '{token}'\n"}, "oops")
    committed.run("rm", "-q", "settings.py")
    changes = git.staged()
    assert changes.files == ()
    (deleted,) = changes.deleted
    assert [ln.text for h in deleted.hunks for ln in h.lines] == [f"TOKEN = '{token}'"]


# ---------------------------------------------------------------------------------------------- content
def test_file_texts_reads_many_files_in_three_git_calls(committed: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    committed.write("bin.dat", b"\x00\x01binary")
    committed.write(".env", "API_KEY=not-for-review\n")
    committed.write("c.py", "print('staged c')\n")
    committed.add()
    committed.write("c.py", "print('work tree c')\n")
    calls: list[object] = []
    real = gitcli.run

    def counting(args: object, **kw: object) -> tuple[int, bytes]:
        calls.append(args)
        return real(args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(gitcli, "run", counting)
    texts = git.file_texts(["a.py", "b.py", "c.py", "missing.py", "bin.dat", ".env"])
    assert texts == {
        "a.py": NUMBERS,
        "b.py": "x = 1\ny = 2\n",
        "c.py": "print('staged c')\n",
        "missing.py": None,
        "bin.dat": None,
        ".env": None,
    }
    assert len(calls) == 3
    assert git.file_texts([]) == {}


@pytest.mark.hardening_hostile_input
def test_crlf_lines(committed: GitRepo) -> None:
    committed.commit_files({"win.txt": b"one\r\ntwo\r\nthree\r\n"}, "crlf")
    committed.write("win.txt", b"one\r\nTWO\r\nthree\r\n")
    committed.add()
    (hunk,) = git.staged().files[0].hunks
    assert [(ln.kind, ln.text, ln.new_no) for ln in hunk.lines] == [
        (" ", "one", 1), ("-", "two", None), ("+", "TWO", 2), (" ", "three", 3),
    ]  # fmt: skip


@pytest.mark.hardening_hostile_input
def test_latin1_content_does_not_crash(committed: GitRepo) -> None:
    committed.write("legacy.py", "nom = 'café'\n".encode("latin-1") + b"x = 1\n")
    committed.add()
    (f,) = git.staged().files
    assert added_text(f) == ["nom = 'caf\ufffd'", "x = 1"]
    assert git.file_text("legacy.py") == "nom = 'caf\ufffd'\nx = 1\n"


ODD_NAMES = [
    "with space.py",
    "comma,name.py",
    "colon:name.py",
    "new\nline.py",
    "tab\tname.py",
    'quote"name.py',
    "back\\slash.py",
    "ünïcödé.py",
    "日本語/ファイル.py",
    "a b/c d.py",
    "-dash.py",
    "b/a.py",
    "x b/y.py",
]


@pytest.mark.hardening_hostile_input
def test_odd_file_names(git_repo: GitRepo) -> None:
    for i, name in enumerate(ODD_NAMES):
        git_repo.write(name, f"value = {i}\n")
    git_repo.write(os.fsdecode(b"latin\xe9.py"), "value = 'latin'\n")
    git_repo.add()
    files = by_path(git.staged())
    latin = os.fsdecode(b"latin\xe9.py")
    assert set(files) == {*ODD_NAMES, latin}
    for i, name in enumerate(ODD_NAMES):
        assert added_text(files[name]) == [f"value = {i}"], name
        assert files[name].hunks[0].path == name
        assert git.file_text(name) == f"value = {i}\n"
    assert added_text(files[latin]) == ["value = 'latin'"]


@pytest.mark.hardening_hostile_input
def test_odd_names_survive_a_rename(git_repo: GitRepo) -> None:
    git_repo.commit_files({"old name.py": NUMBERS}, "base")
    git_repo.run("mv", "old name.py", "new\nname, really.py")
    git_repo.write("new\nname, really.py", NUMBERS + "line 101\n")
    git_repo.add()
    (f,) = git.staged().files
    assert (f.path, f.old_path, f.status) == ("new\nname, really.py", "old name.py", "R")
    assert added_text(f) == ["line 101"]


def test_an_empty_new_file_has_nothing_to_review(committed: GitRepo) -> None:
    committed.write("empty.py", "")
    committed.add()
    assert git.staged().skipped == {"empty": 1}


def test_changes_hunks_and_languages(committed: GitRepo) -> None:
    committed.write("Dockerfile", "FROM python:3.11\n")
    committed.write("web/app.ts", "export {}\n")
    committed.write("notes", "plain\n")
    committed.add()
    changes = git.staged()
    assert {f.path: f.language for f in changes.files} == {"Dockerfile": "dockerfile", "web/app.ts": "typescript",
                                                          "notes": "text"}  # fmt: skip
    assert [h.path for h in changes.hunks] == [f.path for f in changes.files]


def test_pathspecs_are_chunked_below_the_argument_limit(committed: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(30):
        committed.write(f"pkg/module_{i:02}.py", f"value = {i}\n")
    committed.write("skipped.lock", "x\n")  # one skipped file: the patch is asked for by pathspec
    committed.add()
    committed.run("mv", "a.py", "a_renamed.py")  # a rename's two paths must stay in one chunk
    committed.write("a_renamed.py", NUMBERS + "one more\n")
    committed.add()
    assert [len(c) for c in gitdiff._pathspec_chunks([(b"x" * 9,)] * 5, limit=25)] == [2, 2, 1]
    assert gitdiff._pathspec_chunks([(b"old",), (b"a" * 9, b"b" * 9)], limit=20) == [[b"old"], [b"a" * 9, b"b" * 9]]
    real = gitdiff._pathspec_chunks
    monkeypatch.setattr(gitdiff, "_pathspec_chunks", lambda groups: real(groups, limit=1))  # a chunk per file
    changes = git.staged()
    files = by_path(changes)
    assert len(files) == 31
    assert (files["a_renamed.py"].status, added_text(files["a_renamed.py"])) == ("R", ["one more"])
    assert all(added_text(files[f"pkg/module_{i:02}.py"]) == [f"value = {i}"] for i in range(30))


def test_a_pure_rename_is_skipped(committed: GitRepo) -> None:
    committed.run("mv", "a.py", "moved.py")
    assert git.staged().skipped == {"rename-only": 1}


# ---------------------------------------------------------------------------------------------- merges
@pytest.fixture
def conflicted(committed: GitRepo) -> GitRepo:
    committed.run("checkout", "-q", "-b", "other")
    committed.commit_files({"b.py": "x = 1\ny = 'other'\n", "c.py": "print('other')\n"}, "other")
    committed.run("checkout", "-q", "main")
    committed.commit_files({"b.py": "x = 1\ny = 'main'\n"}, "main")
    committed.run("merge", "-q", "other", check=False)
    return committed


@pytest.mark.hardening_hostile_input
def test_merge_in_progress(conflicted: GitRepo) -> None:
    assert git.in_merge()
    assert git.operation_in_progress() == "merge"
    assert git.conflicts() == ("b.py",)
    changes = git.staged()
    assert [f.path for f in changes.files] == ["c.py"]  # resolved (merged cleanly): reviewed
    assert changes.skipped == {"unmerged": 1}

    conflicted.write("b.py", "x = 1\ny = 'both'\n")
    conflicted.add("b.py")
    assert git.conflicts() == ()
    files = by_path(git.staged())
    assert added_text(files["b.py"]) == ["y = 'both'"]


@pytest.mark.hardening_hostile_input
def test_a_cherry_pick_with_a_conflict(committed: GitRepo) -> None:
    committed.run("checkout", "-q", "-b", "other")
    picked = committed.commit_files({"b.py": "x = 1\ny = 'other'\n"}, "other")
    committed.run("checkout", "-q", "main")
    committed.commit_files({"b.py": "x = 1\ny = 'main'\n"}, "main")
    committed.run("cherry-pick", picked, check=False)
    assert git.operation_in_progress() == "cherry-pick"
    assert not git.in_merge()
    assert git.staged().skipped == {"unmerged": 1}


def test_no_operation_in_progress(committed: GitRepo) -> None:
    assert not git.in_merge()
    assert git.operation_in_progress() is None
    assert git.conflicts() == ()


# ---------------------------------------------------------------------------------------------- environment
@pytest.mark.hardening_hostile_input
def test_git_index_file_is_respected(committed: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """`git commit -a` runs hooks with GIT_INDEX_FILE pointing at a temporary index."""
    committed.write("b.py", "x = 1\ny = 'commit -a'\n")  # modified in the work tree only
    assert git.staged().files == ()
    index = committed.path / ".git" / "next-index-42.lock"
    env = {"GIT_INDEX_FILE": str(index)}
    committed.run("read-tree", "HEAD", env=env)
    committed.run("add", "b.py", env=env)

    monkeypatch.setenv("GIT_INDEX_FILE", str(index))
    (f,) = git.staged().files
    assert added_text(f) == ["y = 'commit -a'"]
    assert git.file_text("b.py") == "x = 1\ny = 'commit -a'\n"
    monkeypatch.setenv("GIT_INDEX_FILE", os.path.relpath(index))  # relative, as some git versions set it
    assert len(git.staged().files) == 1


@pytest.mark.hardening_hostile_input
def test_hostile_git_config_changes_nothing(committed: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    committed.write("a.py", NUMBERS.replace("line 50\n", "line fifty\n"))
    committed.write("odd ü.py", "x = 1\n")
    committed.write("sub/dir.py", "y = 2\n")
    committed.run("mv", "c.py", "renamed.py")
    committed.add()
    before = git.staged()
    assert {(f.path, f.status) for f in before.files} >= {("a.py", "M"), ("sub/dir.py", "A")}
    assert before.skipped == {"rename-only": 1}
    for key, value in {
        "diff.noprefix": "true",
        "diff.mnemonicPrefix": "true",
        "color.diff": "always",
        "color.ui": "always",
        "diff.external": "false",
        "diff.relative": "true",
        "diff.context": "10",
        "diff.algorithm": "patience",
        "diff.submodule": "log",
        "diff.renames": "false",
        "core.quotepath": "true",
        "diff.textconv-driver.textconv": "tr a-z A-Z <",
        "core.pager": "false",
    }.items():
        committed.run("config", key, value)
    committed.write(".git/info/attributes", "*.py diff=textconv-driver\n")
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", "false")
    monkeypatch.setenv("GIT_DIFF_OPTS", "--unified=7")
    monkeypatch.chdir("sub")
    assert git.staged() == before
    assert git.file_text("a.py") == NUMBERS.replace("line 50\n", "line fifty\n")


@pytest.mark.hardening_hostile_input
def test_not_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GitError, match=r"not inside a git work tree: .*not a git repository") as err:
        git.staged()
    assert "\n" not in str(err.value)
    with pytest.raises(GitError, match="not inside a git work tree"):
        git.repo_root(tmp_path / "missing")


@pytest.mark.hardening_hostile_input
def test_inside_the_git_directory(committed: GitRepo) -> None:
    with pytest.raises(GitError, match="not inside a git work tree"):
        git.staged(cwd=committed.path / ".git")


@pytest.mark.hardening_hostile_input
def test_git_missing(committed: GitRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(GitError, match="git is not installed or not on PATH"):
        git.staged()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown the repository")
@pytest.mark.hardening_hostile_input
def test_dubious_ownership(committed: GitRepo) -> None:
    shutil.chown(committed.path, user=65534, group=65534)
    with pytest.raises(GitError, match="dubious ownership") as err:
        git.staged()
    assert "safe.directory" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.hardening_hostile_input
def test_a_bare_repository(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    GitRepo(tmp_path).run("init", "-q", "--bare", str(bare))
    with pytest.raises(GitError, match="not inside a git work tree"):
        git.staged(cwd=bare)


def test_repo_root(committed: GitRepo) -> None:
    (committed.path / "deep" / "er").mkdir(parents=True)
    assert git.repo_root(committed.path / "deep" / "er") == Path(os.path.realpath(committed.path))


# ---------------------------------------------------------------------------------------------- hunks
def _hunk_near_line_80(repo: GitRepo) -> Hunk:
    (f,) = git.staged().files
    return next(h for h in f.hunks if "line eighty" in h.local_text())


def test_a_moved_hunk_renders_the_same_local_text(committed: GitRepo) -> None:
    committed.write("a.py", NUMBERS.replace("line 80\n", "line eighty\n"))
    committed.add()
    alone = _hunk_near_line_80(committed)
    committed.write("a.py", "".join(["extra\n"] * 7) + NUMBERS.replace("line 80\n", "line eighty\n"))
    committed.add()
    moved = _hunk_near_line_80(committed)
    assert moved.new_start == alone.new_start + 7
    assert moved.local_text() == alone.local_text()
    assert (alone.to_absolute(2), moved.to_absolute(2)) == (80, 87)


def test_hunk_line_mapping() -> None:
    hunk = Hunk(
        "m.py", 10, 3, 10, 3, "@@ -10,3 +10,3 @@ def total(xs):",
        (
            Line(" ", "    xs = list(xs)", 10, 10),
            Line("-", "    return sum(xs)", 11, None),
            Line("+", "    return math.fsum(xs)", None, 11),
            Line(" ", "", 12, 12),
        ),
    )  # fmt: skip
    assert hunk.section == "def total(xs):"
    assert hunk.added_lines == (11,)
    assert hunk.removed_lines == (11,)
    assert hunk.local_text() == "     xs = list(xs)\n-    return sum(xs)\n2+    return math.fsum(xs)\n "
    assert [hunk.to_absolute(i) for i in (0, 1, 2, 3, 4)] == [None, 10, 11, 12, None]
    assert [hunk.to_local(n) for n in (9, 10, 11, 12)] == [None, 1, 2, 3]


# ---------------------------------------------------------------------------------------------- parser
SAMPLE_PATCH = b"""\
diff --git a/x.py b/x.py
index 1111111..2222222 100644
--- a/x.py
+++ b/x.py
@@ -1,3 +1,4 @@ class X:
 a
-b
+B
+c

\\ No newline at end of file
diff --git "a/new\\nline.py" "b/new\\nline.py"
new file mode 100644
--- /dev/null
+++ "b/new\\nline.py"
@@ -0,0 +1 @@
+--- not a header
diff --git a/img.png b/img.png
new file mode 100644
Binary files /dev/null and b/img.png differ
diff --git a/run.sh b/run.sh
old mode 100644
new mode 100755
diff --git a/old.py b/renamed.py
similarity index 100%
rename from old.py
rename to renamed.py
"""


def test_parse_patch_statuses_and_quoted_headers() -> None:
    patch = (
        b"diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n"
        b"@@ -1 +0,0 @@\n-x = 1\n"
        b"diff --git a/src.py b/copy.py\nsimilarity index 90%\ncopy from src.py\ncopy to copy.py\n"
        b'diff --git "a/t\\tab.bin" "b/t\\tab.bin"\nindex 1..2 100644\nBinary files "a/t\\tab.bin" and "b/t\\tab.bin" differ\n'
        b"diff --git a/sub b/sub\nindex 1..2 160000\n--- a/sub\n+++ b/sub\n@@ -1 +1 @@\n-Subproject commit 1\n+Subproject commit 2\n"
    )
    gone, copy, tab, sub = parse_patch(patch)
    assert (gone.path, gone.status, [ln.kind for ln in gone.hunks[0].lines]) == ("gone.py", "D", ["-"])
    assert (copy.path, copy.old_path, copy.status) == ("copy.py", "src.py", "C")
    assert (tab.path, tab.binary) == ("t\tab.bin", True)
    assert sub.submodule


def test_parse_patch() -> None:
    x, newline, png, run, renamed = parse_patch(SAMPLE_PATCH)
    assert x.path == "x.py"
    (hunk,) = x.hunks
    assert [(ln.kind, ln.text) for ln in hunk.lines] == [(" ", "a"), ("-", "b"), ("+", "B"), ("+", "c"), (" ", "")]
    assert (newline.path, newline.status, added_text(newline)) == ("new\nline.py", "A", ["--- not a header"])
    assert (png.path, png.binary, png.hunks) == ("img.png", True, ())
    assert (run.path, run.mode_only) == ("run.sh", True)
    assert (renamed.path, renamed.old_path, renamed.status) == ("renamed.py", "old.py", "R")
    assert parse_patch(SAMPLE_PATCH.decode()) == (x, newline, png, run, renamed)


@settings(max_examples=400, deadline=None, database=None)
@given(st.binary(max_size=2000))
@pytest.mark.hardening_hostile_input
def test_the_parser_survives_random_bytes(data: bytes) -> None:
    parse_patch(b"diff --git a/x b/x\n" + data)
    parse_patch(data)


_DIFFISH = st.sampled_from(
    ["diff --git a/x.py b/x.py", "diff --git ", "@@ -1,2 +1,3 @@", "@@ -0,0 +1 @@ f", "@@ -99999999999 +1,-1 @@",
     "@@ -1 +1 @@", "+added", "-removed", " context", "", "\\ No newline at end of file", "--- a/x.py",
     "+++ b/x.py", "+++ /dev/null", "new file mode 160000", "old mode 100644", "rename to \"q\\n\\303\"",
     "rename from", "Binary files a and b differ", "index 0..1 120000", "\r", "+\r", '"', "\udcff"]
)  # fmt: skip


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.one_of(_DIFFISH, st.text(max_size=20)), max_size=60))
@pytest.mark.hardening_hostile_input
def test_the_parser_survives_diff_shaped_noise(lines: list[str]) -> None:
    text = "\n".join(lines)
    for f in parse_patch(text.encode("utf-8", "surrogateescape")):
        for h in f.hunks:
            h.local_text()
            assert all(ln.kind in " +-" for ln in h.lines)
            h.to_absolute(1)


def test_empty_tree_constant(git_repo: GitRepo) -> None:
    assert git_repo.run("hash-object", "-t", "tree", "/dev/null").strip() == EMPTY_TREE
