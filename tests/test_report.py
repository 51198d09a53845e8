"""The usage report (#11): the HTML page in a real headless Chromium, and the terminal chart.

How the browser is checked: Chromium is driven over the DevTools protocol on a pipe
(`--remote-debugging-pipe`: fd 3 in, fd 4 out, NUL-separated JSON; stdlib only, no websocket, no port).
That gives, for the same page load, every uncaught exception (Runtime.exceptionThrown), every console
error (Runtime.consoleAPICalled), every browser-side error such as a Content-Security-Policy violation
or a failed load (Log.entryAdded), and every request the page makes (Network.requestWillBeSent) — more
than scraping `--enable-logging=stderr` lines, whose format changes between Chromium versions — and it
evaluates DOM queries after scripts ran, emulates prefers-color-scheme and a phone-sized viewport, and
takes full-page screenshots. A control page with a deliberate error proves the checks can fail.

Chromium missing: skipped locally, a failure in CI (`CI` set; .ci/run installs it).
Set REPORT_SCREENSHOT_DIR to keep the screenshots.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from symphony_assist_hooks.assistant import stats as stats_module
from symphony_assist_hooks.assistant.stats import StatsLog, summarize
from symphony_assist_hooks.cli import main
from symphony_assist_hooks.cli.commands.stats import spend_chart
from symphony_assist_hooks.config import Settings
from symphony_assist_hooks.report.html import dashboard_html, days_of, render_html, write_html

DAY0 = datetime(2025, 3, 1, 9, tzinfo=UTC).timestamp()
DAYS = [f"2025-03-0{i}" for i in range(1, 8)]
BUDGET = {
    "run": {"spent": 0, "reserved": 0, "cap": 500_000},
    "day": {"period": "2025-03-07", "spent": 21_000, "reserved": 0, "cap": 15_000},
    "month": {"period": "2025-03", "spent": 84_000, "reserved": 0, "cap": 300_000},
    "months": {"2025-02": 41_000, "2025-03": 84_000},
}


# ------------------------------------------------------------------------------------ the history
def write_history(path: Path, days: list[int] = list(range(7))) -> list[dict[str, Any]]:  # noqa: B006
    """A week of usage through StatsLog: day d has two runs, each sending d+1 requests of $0.001·(d+1)
    (model alternating), answering 2 items per request from the API and 2·d from the cache; day 3 also
    falls back locally twice. Timestamps are fixed, so the numbers below are exact."""
    real = time.time
    try:
        for d in days:
            for r in range(2):
                log = StatsLog(path, f"run-{d}-{r}")
                ts = DAY0 + d * 86_400 + r * 3_600
                stats_module.time.time = lambda ts=ts: ts  # type: ignore[misc]
                for i in range(d + 1):
                    model = "gpt-4o-mini" if i % 2 == 0 else "gpt-4o"
                    log.record(
                        "request",
                        template="code_review,security",
                        model=model,
                        items=2,
                        prompt_tokens=1_000,
                        completion_tokens=200,
                        cached_tokens=0,
                        cost_micro=1_000 * (d + 1),
                        latency_ms=500,
                    )
                    log.record("api", template="code_review", model=model, items=1)
                    log.record("api", template="security", model=model, items=1)
                for _ in range(2 * d):
                    log.record("cache", template="security", model="gpt-4o-mini", items=1, saved_micro=600)
                if d == 3:
                    log.record("local", template="code_review", items=2, reason="budget: daily cap of $0.01 reached")
    finally:
        stats_module.time.time = real  # type: ignore[misc]
    return list(StatsLog(path).read())


@pytest.fixture
def history(tmp_path: Path) -> list[dict[str, Any]]:
    return write_history(tmp_path / "stats.jsonl")


def spend_of(day: int) -> int:
    return 2 * (day + 1) * 1_000 * (day + 1)


# ------------------------------------------------------------------------------ the page, parsed
class Marks(HTMLParser):
    """Elements with data attributes, by chart; every URL-bearing attribute; the script bodies."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.chart: str | None = None
        self.marks: dict[str, list[dict[str, str]]] = {}
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        self.urls += [v for k, v in a.items() if k in ("src", "href", "xlink:href", "action")]
        if tag == "svg" and "data-chart" in a:
            self.chart = a["data-chart"]
            self.marks[self.chart] = []
        elif self.chart and "data-series" in a:
            self.marks[self.chart].append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.chart = None


def test_page_holds_every_chart_with_one_mark_per_day(history: list[dict[str, Any]]) -> None:
    page = render_html(summarize(history), BUDGET, Settings(), events=history, now=DAY0 + 7 * 86_400)
    m = Marks(page)
    assert sorted(m.marks) == ["fallback", "hit-rate", "models", "spend-day", "spend-month", "templates", "tokens"]
    for chart, series in [
        ("spend-day", "spend"),
        ("spend-month", "month"),
        ("hit-rate", "hit"),
        ("tokens", "sent"),
        ("tokens", "saved"),
        ("fallback", "local"),
    ]:
        assert [e["data-day"] for e in m.marks[chart] if e["data-series"] == series] == DAYS, (chart, series)
    spend = {e["data-day"]: int(float(e["data-value"])) for e in m.marks["spend-day"]}
    assert spend == {d: spend_of(i) for i, d in enumerate(DAYS)}
    month = [float(e["data-value"]) for e in m.marks["spend-month"]]
    assert month == [sum(spend_of(j) for j in range(i + 1)) for i in range(7)]
    # day d answers 4(d+1) items from the API and 4d from the cache (and 4 locally on day 3)
    rates = [4 * d / (8 * d + 4 + (4 if d == 3 else 0)) for d in range(7)]
    assert [float(e["data-value"]) for e in m.marks["hit-rate"]] == pytest.approx(rates, abs=1e-5)
    assert [float(e["data-value"]) for e in m.marks["fallback"]] == pytest.approx([0, 0, 0, 4 / 32, 0, 0, 0], abs=1e-5)
    assert [e["data-name"] for e in m.marks["models"]] == ["gpt-4o-mini", "gpt-4o"]
    # a request carrying both checklists is split between them, not counted twice
    total = sum(spend.values())
    assert sum(int(e["data-value"]) for e in m.marks["templates"]) == total
    over = [e["data-day"] for e in m.marks["spend-day"] if "over" in e["class"].split()]
    assert over == [d for i, d in enumerate(DAYS) if spend_of(i) > 15_000]
    assert page.count("data-run=") == 10  # the ten most expensive of 14 runs
    assert m.urls == []  # nothing to fetch: no src, no href
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page


def test_gaps_are_filled_and_rates_skip_days_without_answers(tmp_path: Path) -> None:
    events = write_history(tmp_path / "s.jsonl", days=[0, 1, 4])
    m = Marks(render_html(summarize(events), {}, Settings(), events=events))
    assert len(m.marks["spend-day"]) == 5  # 03-01 .. 03-05, 03-03 and 03-04 at $0
    assert [e["data-value"] for e in m.marks["spend-day"]][2:4] == ["0", "0"]
    assert [e["data-day"] for e in m.marks["hit-rate"]] == ["2025-03-01", "2025-03-02", "2025-03-05"]


def test_untrusted_names_are_escaped(tmp_path: Path) -> None:
    log = StatsLog(tmp_path / "s.jsonl", 'run"><script>alert(1)</script>')
    log.record("request", template="<img src=x onerror=alert(1)>", model="m<u>", items=1, cost_micro=5)
    log.record("local", template="t", items=1, reason="</li><script>alert(2)</script>")
    events = list(log.read())
    page = render_html(summarize(events), {"error": "<u>ledger</u>"}, Settings(), events=events)
    assert "<script>alert" not in page
    assert "<img" not in page
    assert "<u>" not in page
    assert Marks(page).tags.count("script") == 1  # only the page's own


def test_empty_history_and_no_caps_still_render() -> None:
    page = render_html(summarize([]), {}, Settings(budget_monthly=None, budget_daily=None))
    assert "no usage recorded yet" in page
    assert "no daily cap set" in page
    assert "Run details need the raw events" in page


def test_stats_html_writes_the_report_from_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    write_history(cache / "stats.jsonl")
    monkeypatch.setenv("SYMPHONY_ASSIST_CACHE_DIR", str(cache))
    monkeypatch.setenv("SYMPHONY_ASSIST_BUDGET_DAILY", "0.015")
    out = tmp_path / "report.html"
    assert main(["stats", "--html", str(out), "--since", "2025-03-03"]) == 0
    text = capsys.readouterr().out
    assert "spend per day (UTC), daily cap $0.0150 marked |" in text
    m = Marks(out.read_text(encoding="utf-8"))
    assert len(m.marks["spend-day"]) == 5
    assert "data-run=" in out.read_text(encoding="utf-8")


def test_dashboard_html_reads_the_assistant(tmp_path: Path) -> None:
    from symphony_assist_hooks.assistant import Assistant

    settings = Settings(cache_dir=tmp_path, budget_daily=0.5)
    write_history(tmp_path / "stats.jsonl")
    assistant = Assistant(settings)
    try:
        page = dashboard_html(assistant, since=DAY0 + 5 * 86_400 - 3_600 * 9)
    finally:
        assistant.close()
    assert len(Marks(page).marks["spend-day"]) == 2
    assert "of $0.50" in page  # the ledger's daily cap


# ---------------------------------------------------------------------------------- terminal chart
def test_terminal_chart_golden(history: list[dict[str, Any]]) -> None:
    # spend doubles-ish per day: $0.002, 0.008, ... 0.098; the daily cap of $0.06 sits at column 18 of 30
    assert spend_chart(summarize(history), 60_000, width=30) == [
        "spend per day (UTC), daily cap $0.0600 marked |",
        "  03-01  #                 |                $0.0020",
        "  03-02  ##                |                $0.0080",
        "  03-03  ######            |                $0.0180",
        "  03-04  ##########        |                $0.0320",
        "  03-05  ###############   |                $0.0500",
        "  03-06  ##################|###             $0.0720  over the cap",
        "  03-07  ##################|###########     $0.0980  over the cap",
    ]


def test_terminal_chart_shapes(history: list[dict[str, Any]]) -> None:
    s = summarize(history)
    assert days_of(s, 3) == ["2025-03-05", "2025-03-06", "2025-03-07"]
    no_cap = spend_chart(s, None, width=20)
    assert no_cap[0] == "spend per day (UTC), no daily cap"
    assert no_cap[-1] == "  03-07  ####################     $0.0980"
    far = spend_chart(s, 10_000_000, width=20)
    assert far[0] == "spend per day (UTC), daily cap $10.0000 (far above this scale)"
    assert all("|" not in line for line in far[1:])


# ------------------------------------------------------------------------------- the real browser
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    reason = "chromium is not installed (apt-get install chromium)"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason}: CI must run the browser test (.ci/run installs it)")
    pytest.skip(reason)


class Browser:
    """Chromium over the DevTools protocol on a pipe: fd 3 carries our commands, fd 4 its replies."""

    def __init__(self, exe: str, profile: Path) -> None:
        to_chrome_r, self._out = os.pipe()
        self._in, from_chrome_w = os.pipe()
        keep = (fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10))

        def wire() -> None:  # in the child, before exec: the pipe ends become fds 3 and 4
            os.dup2(keep[0], 3)
            os.dup2(keep[1], 4)

        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=wire,  # noqa: PLW1509 - single-threaded at this point of the test
        )
        for fd in (to_chrome_r, from_chrome_w, *keep):
            os.close(fd)
        self._next = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _read(self) -> None:
        buf = b""
        while chunk := os.read(self._in, 1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            with self._cond:
                for raw in messages:
                    msg = json.loads(raw)
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                self._cond.notify_all()

    def call(self, method: str, *, session: bool = False, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        with self._cond:
            if not self._cond.wait_for(lambda: self._next in self._replies, timeout):
                raise TimeoutError(method)
            reply = self._replies.pop(self._next)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})  # type: ignore[no-any-return]

    def open(self, url: str, *, width: int = 1200, dark: bool | None = None) -> None:
        """Load `url` in a `width`-pixel viewport (prefers-color-scheme forced when `dark` is set)."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        scheme = [] if dark is None else [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]
        self.call("Emulation.setEmulatedMedia", session=True, features=scheme)
        with self._cond:
            self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        with self._cond:
            if not self._cond.wait_for(lambda: any(e["method"] == "Page.loadEventFired" for e in self.events), 30):
                raise TimeoutError(f"loading {url}")

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Uncaught exceptions, console errors, browser errors (CSP, failed loads) since the last `open`."""
        out = []
        with self._cond:
            events = list(self.events)
        for e in events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + str(p["exceptionDetails"].get("exception", {}).get("description")))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + json.dumps(p.get("args")))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"{p['entry']['source']}: {p['entry']['text']}")
        return out

    def requests(self) -> list[str]:
        with self._cond:
            return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path: Path) -> None:
        """The whole page, however long."""
        height = self.js("document.documentElement.scrollHeight")
        width = self.js("document.documentElement.clientWidth")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._out)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    b = Browser(_chromium(), tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def report(tmp_path: Path, history: list[dict[str, Any]]) -> Path:
    out = tmp_path / "report.html"
    write_html(out, summarize(history), BUDGET, Settings(budget_daily=0.015), events=history)
    return out


def _keep(path: Path) -> None:
    if target := os.environ.get("REPORT_SCREENSHOT_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


COUNT = 'document.querySelectorAll(\'svg[data-chart="%s"] [data-series="%s"]\').length'
BACKGROUND = "getComputedStyle(document.body).backgroundColor"


def test_browser_renders_every_chart_without_errors(browser: Browser, report: Path, tmp_path: Path) -> None:
    browser.open(report.as_uri())
    assert browser.problems() == []
    assert [u for u in browser.requests() if not u.startswith("file:")] == []
    for chart, series, n in [
        ("spend-day", "spend", 7),
        ("spend-month", "month", 7),
        ("hit-rate", "hit", 7),
        ("tokens", "sent", 7),
        ("tokens", "saved", 7),
        ("fallback", "local", 7),
        ("templates", "cost", 2),
        ("models", "cost", 2),
    ]:
        assert browser.js(COUNT % (chart, series)) == n, chart
    assert browser.js("document.querySelectorAll('#runs tr[data-run]').length") == 10
    assert browser.js("document.querySelectorAll('svg[data-chart=\"spend-day\"] line.cap').length") == 1
    # every chart has been laid out with a real size (not collapsed by the CSS)
    sizes = browser.js("[...document.querySelectorAll('svg[data-chart]')].map(s => s.getBoundingClientRect().height)")
    assert len(sizes) == 7
    assert min(sizes) > 40
    assert browser.js(BACKGROUND) == "rgb(255, 255, 255)"
    shot = tmp_path / "report-light.png"
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000
    _keep(shot)


@pytest.mark.parametrize("how", ["prefers-color-scheme", "query"])
def test_browser_dark_mode(browser: Browser, report: Path, tmp_path: Path, how: str) -> None:
    if how == "query":
        browser.open(report.as_uri() + "?theme=dark", dark=False)
        assert browser.js("document.documentElement.getAttribute('data-theme')") == "dark"
    else:
        browser.open(report.as_uri(), dark=True)
    assert browser.problems() == []
    assert browser.js(BACKGROUND) == "rgb(13, 17, 23)"
    shot = tmp_path / f"report-dark-{how}.png"
    browser.screenshot(shot)
    _keep(shot)


def test_browser_light_wins_over_a_dark_system(browser: Browser, report: Path) -> None:
    browser.open(report.as_uri() + "?theme=light", dark=True)
    assert browser.problems() == []
    assert browser.js(BACKGROUND) == "rgb(255, 255, 255)"


def test_browser_narrow_screen_has_no_sideways_scroll(browser: Browser, report: Path, tmp_path: Path) -> None:
    browser.open(report.as_uri(), width=375)
    assert browser.problems() == []
    assert browser.js("document.documentElement.scrollWidth") <= 375
    # charts stack in one column
    lefts = browser.js("[...document.querySelectorAll('figure')].map(f => Math.round(f.getBoundingClientRect().left))")
    assert len(set(lefts)) == 1
    shot = tmp_path / "report-narrow.png"
    browser.screenshot(shot)
    _keep(shot)


def test_browser_checks_can_fail(browser: Browser, tmp_path: Path) -> None:
    """The controls: a broken script, a console error, a changed script and a blocked load must all be
    reported, or the checks above prove nothing."""
    page = render_html(summarize([]), {}, Settings())
    path = tmp_path / "bad.html"
    no_csp = page.split('<meta http-equiv="Content-Security-Policy"', 1)
    assert len(no_csp) == 2
    unguarded = no_csp[0] + no_csp[1].split(">", 1)[1]
    path.write_text(unguarded.replace("</main>", "<script>console.error('boom');undefinedFunction()</script></main>"))
    browser.open(path.as_uri())
    problems = browser.problems()
    assert any(p.startswith("exception: ReferenceError: undefinedFunction") for p in problems), problems
    assert any(p.startswith("console.error:") and "boom" in p for p in problems), problems

    tampered = page.replace("<script>", "<script>void 0;", 1)
    tampered = tampered.replace("</main>", '<img src="http://example.invalid/x.png"></main>')
    path.write_text(tampered, encoding="utf-8")
    browser.open(path.as_uri())
    problems = browser.problems()
    assert any("inline script violates" in p for p in problems), problems  # the hash no longer matches
    assert any("example.invalid" in p and "img-src" in p for p in problems), problems
    assert "http://example.invalid/x.png" in browser.requests()  # seen although CSP blocked it
