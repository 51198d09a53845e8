"""`language_of`: a language name from a file name (re-exported by `git.py`)."""

from __future__ import annotations

__all__ = ["language_of"]

_LANGUAGES = {
    ".py": "python", ".pyi": "python", ".pyx": "cython", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript", ".go": "go",
    ".rs": "rust", ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".rb": "ruby",
    ".php": "php", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp",
    ".cs": "csharp", ".swift": "swift", ".m": "objective-c", ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".ps1": "powershell", ".sql": "sql", ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss",
    ".vue": "vue", ".svelte": "svelte", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml",
    ".ini": "ini", ".cfg": "ini", ".xml": "xml", ".md": "markdown", ".rst": "rst", ".tf": "terraform",
    ".lua": "lua", ".r": "r", ".dart": "dart", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang",
    ".hs": "haskell", ".ml": "ocaml", ".clj": "clojure", ".pl": "perl", ".proto": "protobuf",
    ".graphql": "graphql", ".j2": "jinja", ".jinja": "jinja",
}  # fmt: skip
_LANGUAGE_NAMES = {"dockerfile": "dockerfile", "makefile": "make", "gnumakefile": "make", "jenkinsfile": "groovy"}


def language_of(path: str) -> str:
    """A language name from the file name ("python", "javascript", ...), "text" when unknown."""
    name = path.rsplit("/", 1)[-1].lower()
    if name in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[name]
    _, dot, ext = name.rpartition(".")
    return _LANGUAGES.get("." + ext, "text") if dot else "text"
