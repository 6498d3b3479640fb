"""The dashboard's accessibility checks (issue 15), in Chromium: text contrast of at least 4.5:1
on every page as rendered, a status never told by colour alone, every control reachable with
the keyboard with a visible focus, and no page wider than the screen at 1280x800 or at a
phone's 390 pixels.

Contrast is WCAG 2's: relative luminance of the text's computed colour against the colour
behind it (the element's and its ancestors' backgrounds composited), (L1 + 0.05) / (L2 + 0.05).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ui.conftest import LiveServer, screenshot
from tests.ui.test_dashboard import _execution

ROOT = Path(__file__).resolve().parents[2]

CONTRAST = """
() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)];
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  };
  const behind = (element) => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) {
        layers.push(c);
        if (c[3] >= 1) break;
      }
    }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => v * (1 - c[3]) + c[i] * c[3]);
    return out;
  };
  const over = (fg, bg) => fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
  const low = [];
  const check = (element, colour, what) => {
    const bg = behind(element);
    const r = ratio(over(parse(colour), bg), bg);
    if (r < 4.5) low.push(`${what}: ${colour} on rgb(${bg.map(Math.round)}) is ${r.toFixed(2)}:1`);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    const element = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !element || element.closest("noscript, script, style, .skip, .visually-hidden")) continue;
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    if (!box.width || !box.height || style.visibility === "hidden") continue;
    check(element, style.color, `${element.tagName.toLowerCase()}.${element.className} "${text.slice(0, 30)}"`);
  }
  for (const input of document.querySelectorAll("input[placeholder]")) {
    check(input, getComputedStyle(input, "::placeholder").color, `placeholder "${input.placeholder}"`);
  }
  return low;
}
"""


@pytest.fixture(scope="module")
def failed_run(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A finished run with a failure (and its screenshot), and a pipeline run with a skipped
    branch: every status the pages show."""
    execution = _execution(live, tmp_path_factory.mktemp("a11y"), "ui-a11y")
    run = live.api("POST", f"/executions/{execution['id']}/run")
    # The failure's screenshot arrives with its worker's results file, after the live result:
    # the pages are read once it is there.
    deadline = time.monotonic() + 120
    while not any(
        r["status"] == "failed" and r["artifacts"]
        for r in live.api("GET", f"/runs/{run['id']}/results")["items"]
    ):
        assert time.monotonic() < deadline, "the failure's screenshot never arrived"
        time.sleep(0.2)
    document = yaml.safe_load((ROOT / "examples/pipelines/branching.yaml").read_text())
    pipeline = live.api("POST", "/pipelines", json=document)
    piped = live.api("POST", f"/pipelines/{pipeline['id']}/run", json={"parameters": {}})
    return dict(run, execution_id=execution["id"], pipeline_run=piped["id"])


def _pages(run: dict[str, Any]) -> Iterator[tuple[str, str | re.Pattern[str]]]:
    """(name, path) of every kind of page, each waited for by a text it shows when loaded."""
    yield "/", re.compile(r"^\d+ runs$")
    yield f"/runs/{run['id']}", "Scenarios"
    yield f"/runs/{run['id']}/logs", "back to the run"
    yield "/executions", "ui-a11y"
    yield f"/executions/{run['execution_id']}", "Scenario history"
    yield "/pipelines", "branching"
    yield f"/pipeline-runs/{run['pipeline_run']}", "branch not taken"


def _open(page: Any, path: str, text: str | re.Pattern[str]) -> None:
    page.goto(path)
    page.get_by_text(text).first.wait_for()


def _open_failure(page: Any) -> None:
    page.get_by_text("3 of 3 scenarios").wait_for()
    page.get_by_role("row", name=re.compile("test_total_is_three")).click()
    page.get_by_role("region", name="Scenario detail").get_by_role("img").wait_for()


def test_text_contrast_is_at_least_4_5_to_1_on_every_page(
    page: Any, failed_run: dict[str, Any]
) -> None:
    low: list[str] = []
    for path, text in _pages(failed_run):
        _open(page, path, text)
        if path == f"/runs/{failed_run['id']}":
            _open_failure(page)
        low += [f"{path}: {item}" for item in page.evaluate(CONTRAST)]
    # The confirmation dialog too.
    _open(page, f"/runs/{failed_run['id']}", "Scenarios")
    page.get_by_role("button", name="Resubmit").click()
    low += [f"dialog: {item}" for item in page.evaluate(CONTRAST)]
    page.get_by_role("button", name="Cancel").click()
    assert not low, "\n".join(low)


def test_a_status_is_a_symbol_and_a_word_not_only_a_colour(
    page: Any, failed_run: dict[str, Any]
) -> None:
    _open(page, f"/runs/{failed_run['id']}", "Scenarios")
    _open_failure(page)
    statuses = page.evaluate(
        """() => [...document.querySelectorAll(".status")].map((s) => [
             s.textContent.trim(), getComputedStyle(s, "::before").content])"""
    )
    assert statuses
    for word, symbol in statuses:
        assert re.fullmatch(r"[a-z]+", word.lower()), statuses
        assert symbol not in ("none", "normal", '""'), (word, symbol)
    # Every status word the API sends has its symbol: phases (ours and Argo's, of runs, groups,
    # workers and jobs), verdicts and scenario statuses.
    words = [
        *("Pending", "Running", "Succeeded", "Failed", "Error", "Canceling", "Skipped"),
        *("Omitted", "running", "passed", "failed", "errored", "canceled", "error", "skipped"),
        *("suspended", "flaky"),
    ]
    symbols = page.evaluate(
        """(words) => words.map((word) => {
             const s = document.createElement("span");
             s.className = "status status-" + word.toLowerCase();
             s.textContent = word;
             document.body.append(s);
             const symbol = getComputedStyle(s, "::before").content;
             s.remove();
             return [word, symbol];
           })""",
        words,
    )
    assert all(symbol not in ("none", "normal", '""') for _, symbol in symbols), symbols
    # The timeline's legend says how a bar's shape tells its status, not only its colour.
    legend = page.get_by_role("region", name="Worker timeline").locator(".legend").inner_text()
    assert "short" in legend and "tall" in legend and "outline" in legend


def _focus_ring(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
              const e = document.activeElement;
              const s = getComputedStyle(e);
              const box = e.getBoundingClientRect();
              return {
                name: (e.getAttribute("aria-label") || e.textContent || e.value || e.tagName)
                  .trim().slice(0, 40),
                tag: e.tagName, outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
                colour: s.outlineColor,
                visible: box.width > 0 && box.height > 0 && box.right > 0 && box.left < innerWidth,
              };
            }"""
        )
    )


def test_the_runs_page_by_keyboard_with_a_visible_focus(
    page: Any, failed_run: dict[str, Any]
) -> None:
    _open(page, "/", re.compile(r"^\d+ runs$"))
    page.locator("tbody tr").first.wait_for()
    seen: list[dict[str, Any]] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        ring = _focus_ring(page)
        if ring["tag"] == "BODY":
            break
        seen.append(ring)
        if ring["name"] == failed_run["id"]:
            break
    names = [r["name"] for r in seen]
    assert names[0] == "Skip to content"
    for expected in ("Runs", "Executions", "Pipelines", "Sign out", "failed", "Filter"):
        assert expected in names, names
    assert failed_run["id"] in names, names
    for ring in seen:
        assert ring["visible"], ring
        assert ring["outline"] != "none" and ring["width"] >= 2, ring
    # The list is live (read every 3 s); the focus stays on the run's link through a refresh.
    page.wait_for_timeout(3500)
    assert _focus_ring(page)["name"] == failed_run["id"]
    # The run's link opens it from the keyboard; a scenario row opens with Enter.
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/runs/\w+$"))
    page.get_by_text(re.compile(r"Phase: (Failed|Succeeded)")).wait_for()
    page.get_by_role("row", name=re.compile("test_total_is_three")).focus()
    assert _focus_ring(page)["outline"] != "none"
    page.keyboard.press("Enter")
    detail = page.get_by_role("region", name="Scenario detail")
    # The attempt's error, not the log excerpt below it (which, once loaded, holds it too).
    detail.locator("pre:not(.log)", has_text="the total should be three").wait_for()
    # Focus moved to the detail's heading, so a keyboard user lands on what opened.
    assert page.evaluate("document.activeElement.id") == "scenario-detail"
    # The skip link takes focus past the navigation, to the page's content.
    page.goto("/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_no_page_is_wider_than_the_screen(
    page: Any, failed_run: dict[str, Any], width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    wide: list[str] = []
    for path, text in _pages(failed_run):
        _open(page, path, text)
        if path == f"/runs/{failed_run['id']}":
            _open_failure(page)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            wide.append(f"{path}: {overflow}px wider than {width}")
        # Nor is any status pushed out of sight inside a scrolling box (the scenario table).
        cut = page.evaluate(
            """() => [...document.querySelectorAll(".status")]
                 .filter((s) => s.getBoundingClientRect().width > 0)
                 .filter((s) => s.getBoundingClientRect().right > innerWidth)
                 .map((s) => s.textContent.trim())"""
        )
        if cut:
            wide.append(f"{path}: statuses beyond the right edge: {cut}")
        name = path.strip("/").replace("/", "-") or "runs"
        if width < 800 and path.startswith("/runs/"):
            screenshot(page, f"phone-{re.sub(r'[0-9a-f]{12}', 'run', name)}")
    assert not wide, wide
