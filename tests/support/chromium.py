"""Debian's headless Chromium, driven over the DevTools protocol (CDP) on loopback.

    with chromium() as browser:
        page = browser.open(url, width=390)        # a phone's width
        page.evaluate("document.body.innerText")
        png = page.screenshot()                    # the whole page, PNG bytes

Each ``chromium()`` is one browser process with its own temporary profile, stopped
(by its pid) and removed on exit. ``--remote-debugging-port=0`` lets Chromium pick a
free port, which it writes to ``DevToolsActivePort`` in the profile.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
)  # fmt: skip


class Page:
    def __init__(self, ws: websocket.WebSocket, session: str) -> None:
        self.ws, self.session = ws, session
        self._ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "sessionId": self.session, "method": method,
                                 "params": params}))  # fmt: skip
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        """The whole page at the emulated width, as PNG."""
        height = self.evaluate("document.documentElement.scrollHeight")
        width = self.evaluate("window.innerWidth")
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        shot = self.send("Page.captureScreenshot", format="png", clip=clip,
                         captureBeyondViewport=True)  # fmt: skip
        return base64.b64decode(shot["data"])


class Browser:
    def __init__(self, ws: websocket.WebSocket, profile: Path, pid: int) -> None:
        self.ws, self.profile, self.pid = ws, profile, pid
        self._ids = itertools.count(1)

    def _send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids) + 1_000_000  # apart from the pages' ids on this socket
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))

    def open(self, url: str, width: int, height: int = 900, timeout: float = 20) -> Page:
        """A new tab at ``width`` CSS pixels (a touch device below 600), loaded with ``url``."""
        target = self._send("Target.createTarget", url="about:blank")["targetId"]
        session = self._send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self.ws, session)
        page.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=width < 600)  # fmt: skip
        page.send("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while page.evaluate("document.readyState + ' ' + location.href") != f"complete {url}":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load in {timeout}s")
            time.sleep(0.05)
        return page


@contextmanager
def chromium(timeout: float = 30) -> Iterator[Browser]:
    profile = Path(tempfile.mkdtemp(prefix="chromium-"))
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its renderers and zygote share this process group
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit status {proc.poll()})")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=timeout)
        try:
            yield Browser(ws, profile, proc.pid)
        finally:
            ws.close()
    finally:
        _stop(proc)
        shutil.rmtree(profile, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ends the group this browser leads (its own pid): the browser and its helpers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
