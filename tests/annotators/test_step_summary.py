"""The job summary: hostile model text must render as inert text (checked with a real CommonMark
parser, markdown-it-py, with raw HTML and tables on), and the file stays under GitHub's 1 MiB."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hostile import HOSTILE_LINES, hostile_pytest_report, hostile_report
from hypothesis import given, settings
from hypothesis import strategies as st

from symphony_assist_hooks.annotators import markdown as md
from symphony_assist_hooks.annotators.base import RenderContext
from symphony_assist_hooks.annotators.github import GithubAnnotator
from symphony_assist_hooks.findings import Finding, Report, Severity
from symphony_assist_hooks.logsafe import clean as sanitize

pytestmark = pytest.mark.hardening_hostile_output

# markdown-it-py arrives through bandit -> rich; it should be listed in the dev extra.
MarkdownIt = pytest.importorskip("markdown_it", reason="markdown-it-py renders the summary").MarkdownIt

MIB = 1024 * 1024
ALLOWED_TAGS = {"h3", "p", "table", "thead", "tbody", "tr", "th", "td", "code", "details", "summary", "strong",
                "em", "br", "ul", "li"}  # fmt: skip
CTX = RenderContext(token="a" * 32)


def render_html(markdown: str) -> str:
    return str(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))


class Page(HTMLParser):
    """Tags, attributes, text outside code, and table rows' cell counts."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.code_depth = 0
        self.rows: list[int] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "code":
            self.code_depth += 1
        if tag == "tr":
            self.rows.append(0)
        if tag in ("td", "th"):
            self.rows[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self.code_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.code_depth:
            self.text.append(data)


def assert_inert(markdown: str) -> Page:
    page = Page(render_html(markdown))
    tags = {tag for tag, _ in page.tags}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert all(attr in ("style",) for _, attrs in page.tags for attr, _ in attrs)  # table alignment only
    text = "".join(page.text)
    assert "://" not in text and not re.search(r"(?i)www\.", text)  # nothing left to autolink
    assert not re.search(r"@[A-Za-z0-9]", text)  # no mention, no e-mail autolink
    assert not re.search(r"#\d", text)  # no issue reference
    assert not re.search("[\x1b\x9b\x07\u202a-\u202e\u2066-\u2069]", markdown)
    return page


def test_hostile_review_summary_is_inert_and_lists_everything() -> None:
    report = hostile_report(12)
    summary = GithubAnnotator().render_summary(report, CTX)
    page = assert_inert(summary)
    assert len(set(page.rows)) == 1, page.rows  # no row gained or lost a cell
    assert len(page.rows) == 1 + 12
    assert summary.count("<details>") == 1


def test_hostile_pytest_summary_is_inert() -> None:
    summary = GithubAnnotator().render_summary(hostile_pytest_report(), CTX)
    page = assert_inert(summary)
    assert page.rows == [4, 4, 4]


def test_findings_outside_the_repo_still_listed() -> None:
    f = Finding("/etc/passwd", 1, 1, Severity.HIGH, "R", "t")
    summary = GithubAnnotator().render_summary(Report(findings=(f,)), CTX)
    assert "/etc/passwd:1" in summary


@pytest.mark.parametrize("line", HOSTILE_LINES)
def test_each_hostile_line_renders_as_its_own_text(line: str) -> None:
    page = assert_inert(md.text(line))
    rendered = "".join(page.text).replace(md.ZWSP, "").strip()
    assert rendered == " ".join(sanitize(line, keep_newlines=False).split())


printable = st.text(st.characters(codec="utf-8"), max_size=80)


@settings(max_examples=300, deadline=None)
@given(printable)
def test_text_renders_to_exactly_the_original_text(s: str) -> None:
    page = assert_inert(md.text(s))
    assert "".join(page.text).replace(md.ZWSP, "").strip() == " ".join(sanitize(s, keep_newlines=False).split())


@settings(max_examples=300, deadline=None)
@given(printable, printable)
def test_cells_and_code_spans_keep_the_table_shape(a: str, b: str) -> None:
    table = f"| a | b |\n|---|---|\n| {md.cell(a)} | {md.code_span(b, in_table=True) or ' '} |\n"
    html = render_html(table)
    page = Page(html)
    assert page.rows == [2, 2]
    want = " ".join(sanitize(b, keep_newlines=False).split())
    codes = re.findall(r"<code>(.*?)</code>", html, re.S)
    if want:
        import html as html_lib

        assert [html_lib.unescape(c) for c in codes] == [want]


@settings(max_examples=200, deadline=None)
@given(printable)
def test_code_span_cannot_be_closed_early(s: str) -> None:
    import html as html_lib

    span = md.code_span(s)
    want = " ".join(sanitize(s, keep_newlines=False).split())
    if not want:
        assert span == ""
        return
    html = render_html(span)
    codes = re.findall(r"<code>(.*?)</code>", html, re.S)
    assert [html_lib.unescape(c) for c in codes] == [want]


def test_paragraphs_keep_line_breaks_inert() -> None:
    out = md.paragraphs("first ::line\n# not a heading\n\n- not a list\n    not code")
    html = render_html(out)
    assert "<h1" not in html and "<li" not in html and "<pre" not in html
    assert html.count("<p>") == 2 and "<br" in html


def test_thirty_findings_all_listed() -> None:
    findings = tuple(Finding("a.py", i + 1, i + 1, Severity.MEDIUM, "R", f"finding number {i}") for i in range(30))
    summary = GithubAnnotator().render_summary(Report(findings=findings), CTX)
    assert all(f"finding number {i}" in summary for i in range(30))
    assert "truncated" not in summary


@pytest.mark.parametrize("cap", [None, 64 * 1024])
def test_size_cap_with_a_note(cap: int | None) -> None:
    big = "x" * 3000 + " @everyone [a](http://e)"
    findings = tuple(
        Finding("src/a.py", i + 1, i + 1, Severity.HIGH, "R", f"t{i} " + big[:200], big, big) for i in range(2000)
    )
    ctx = RenderContext(token="a" * 32) if cap is None else RenderContext(token="a" * 32, summary_max_bytes=cap)
    summary = GithubAnnotator().render_summary(Report(findings=findings), ctx)
    size = len(summary.encode("utf-8"))
    assert size <= ctx.summary_max_bytes < MIB
    assert re.search(r"(truncated|left out)", summary)
    assert_inert(summary)


def test_rows_cut_before_details_when_the_table_alone_is_too_big() -> None:
    findings = tuple(Finding("a.py", i + 1, i + 1, Severity.LOW, "R", "t" * 250) for i in range(2000))
    summary = GithubAnnotator().render_summary(Report(findings=findings), RenderContext(summary_max_bytes=64 * 1024))
    assert "more findings not listed" in summary
    assert "<details>" not in summary
    assert len(summary.encode()) <= 64 * 1024
