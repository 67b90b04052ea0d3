"""The landing page as a reader sees it: rendered by Debian's headless Chromium at
1280 px and at a phone's 390 px, its text order read from the layout (the y position
of each heading and row, and ``innerText``), screenshots taken at both widths.

Set ``LANDING_SCREENSHOTS=DIR`` to keep the screenshots of ``serve --demo``."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter import __version__
from tests.daemon.test_landing import scenario
from tests.support.chromium import Browser, Page, chromium
from tests.support.exporter_process import exporter_process

pytestmark = pytest.mark.slow

WIDTHS = (1280, 390)

# Each heading and overview row with its rendered position, and the page's width.
LAYOUT = """JSON.stringify({
  width: document.documentElement.scrollWidth, viewport: window.innerWidth,
  headings: [...document.querySelectorAll('h1,h2,h3')].map(h =>
    [h.innerText, h.getBoundingClientRect().top]),
  rows: [...document.querySelectorAll('#accounts tr')].slice(1).map(r =>
    [r.cells[0].innerText, r.getBoundingClientRect().top,
     getComputedStyle(r.cells[0]).backgroundColor]),
  tiles: [...document.querySelectorAll('.tile')].map(t =>
    [t.innerText.replace(/\\s+/g, ' '), getComputedStyle(t.querySelector('b')).color,
     t.getBoundingClientRect().top]),
  font: parseFloat(getComputedStyle(document.body).fontSize),
  clipped: [...document.querySelectorAll('#accounts .scroll')].map(d =>
    d.scrollWidth - d.clientWidth),
  text: document.body.innerText})"""


def layout(page: Page) -> dict[str, Any]:
    import json

    return dict(json.loads(page.evaluate(LAYOUT)))


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def in_order(text: str, *parts: str) -> None:
    at = [text.index(p) for p in parts]
    assert at == sorted(at), list(zip(parts, at, strict=True))


@pytest.mark.parametrize("width", WIDTHS)
def test_demo_page_reads_top_down_at_each_width(
    browser: Browser, width: int, tmp_path: Path
) -> None:
    with exporter_process("--demo") as exp:
        page = browser.open(exp.url + "/", width)
        seen = layout(page)
        png = page.screenshot()
    keep = os.environ.get("LANDING_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"landing-{width}.png").write_bytes(png)
    shot_width, shot_height = png_size(png)
    assert shot_width == width and shot_height > 900
    assert seen["width"] <= seen["viewport"] == width, "the page scrolls sideways"
    assert seen["font"] >= 14
    assert seen["clipped"] == [0], "the accounts table fits without scrolling"
    headings = [h for h, _ in seen["headings"]]
    tops = [top for _, top in seen["headings"]]
    assert tops == sorted(tops), "headings are laid out in reading order"
    assert headings == [
        f"AWS IAM credential exporter {__version__}",
        "All accounts",
        "Accounts, worst first",
        "Findings by owner",  # the demo reads its team tag as the owner
        "demo-production (123456789012)",  # its root has no MFA: critical first
        "demo-sandbox (210987654321)",
        "demo-member (345678901234)",  # centrally managed root, fewest findings
        "Configuration",
        "Exemptions",
    ]
    text = seen["text"]
    in_order(text, "All accounts", "Accounts, worst first", "demo-production", "demo-sandbox",
             "demo-member", "Configuration", "Exporter version", "break-glass")  # fmt: skip
    assert "1 exemption expired: it no longer applies" in text
    # Each account says why a check was left out, with the reason it was left out for.
    assert "Not evaluated (root credentials are centrally managed by AWS Organizations" in text
    assert "Not evaluated (Access Advisor has not reported" in text
    assert "the report lacks their input" not in text
    # The newer checks, each where a reader looks: the owners, the centrally managed root
    # in the overview, the services a role does not use, the findings due soon.
    in_order(text, "Accounts, worst first", "root centrally managed", "Findings by owner",
             "platform", "no owner tag", "Due within 14d",
             "nightly-report-lambda: dynamodb, sns")  # fmt: skip
    assert " ago)" in text, "the inline script adds each time's age"
    assert "replica" not in text and "(s)" not in text
    tiles = {label: (colour, top) for label, colour, top in seen["tiles"]}
    assert tiles["1 critical"][0] == "rgb(187, 0, 0)"
    assert tiles["3 accounts"][0] == "rgb(34, 34, 34)"
    assert tiles["0 failing"][0] == tiles["0 stale"][0] == "rgb(136, 136, 136)"  # neutral
    assert tiles["1 due in 14d"][0] == "rgb(153, 119, 0)"  # medium: a warning, not a finding
    rows = [name for name, _, _ in seen["rows"]]
    assert rows == [
        "demo-production (123456789012)",
        "demo-sandbox (210987654321)",
        "demo-member (345678901234)\nroot centrally managed",  # why it has no root finding
    ]
    if width == 1280:  # the totals on one line
        assert len({top for _, top in tiles.values()}) == 1


def test_failing_and_stale_accounts_are_drawn_above_the_rest(
    browser: Browser, tmp_path: Path
) -> None:
    snapshot, _ = scenario()
    path = tmp_path / "landing.html"
    path.write_bytes(snapshot.landing)
    for width in WIDTHS:
        page = browser.open(path.as_uri(), width)
        seen = layout(page)
        assert seen["width"] <= seen["viewport"] == width
        rows = seen["rows"]
        names = [name.split(" (")[0] for name, _, _ in rows]
        assert names == ["flaky", "old", "denied", "root", "busy", "clean"]
        tops = [top for _, top, _ in rows]
        assert tops == sorted(tops)
        highlighted = [colour == "rgb(255, 241, 240)" for _, _, colour in rows]
        assert highlighted == [True, True, True, False, False, False]
        in_order(seen["text"], "3 accounts need attention", "refresh failing", "report stale",
                 "busy (100000000002)", "clean (100000000000)")  # fmt: skip
        png_size(page.screenshot())


def test_the_browser_and_its_profile_are_gone_afterwards() -> None:
    with chromium() as b:
        b.open("about:blank", 390)
        profile, pid = b.profile, b.pid
    assert not profile.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
