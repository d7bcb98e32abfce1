"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe): no extra package.

`open_page(path)` loads a file as a person would open it, waits for the load event (an event, not a sleep),
and answers what the page did: every request it made (and which failed), and what a script in the page
measures of what was drawn. The protocol: JSON messages separated by NUL bytes, Chromium reading on fd 3
and writing on fd 4 (https://chromedevtools.github.io/devtools-protocol/).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTALL_SCRIPT = Path(__file__).with_name("chromium.sh")
PROTOCOL_TIMEOUT_SECONDS = 60


def find_chromium() -> tuple[str | None, str]:
    """The browser's path, installing Debian's package with tests/e2e/chromium.sh if it is missing."""
    for name in (os.environ.get("DRIFTLINE_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name), ""
    installed = subprocess.run([str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900, check=False)
    if installed.returncode == 0 and shutil.which("chromium"):
        return shutil.which("chromium"), ""
    return None, (installed.stderr or installed.stdout).strip()[-500:]


@dataclass
class PageVisit:
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    measured: Any = None


class Chromium:
    def __init__(self, binary: str) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Out of the way of 3 and 4, which the child gets by dup2 (a pipe may itself have landed on 3 or 4).
        read_fd = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        write_fd = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def wire() -> None:
            os.dup2(read_fd, 3)
            os.dup2(write_fd, 4)

        self._profile = tempfile.TemporaryDirectory(prefix="driftline-chromium-")
        self.process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            pass_fds=(3, 4),  # noqa: PLW1509 - only dup2 runs between fork and exec
        )
        os.close(read_fd)
        os.close(write_fd)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise OSError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        request: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self._to_browser, json.dumps(request).encode() + b"\0")
        while True:
            message = self._read_message()
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result") or {})
            self._events.append(message)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        while True:
            for index, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self._events.pop(index)
            self._events.append(self._read_message())

    def open_page(self, path: Path, measure: str) -> PageVisit:
        """Load `path`, wait for its load event, run the `measure` expression in it; what happened."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self._events.clear()
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", session)
        self.send("Page.navigate", session, url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired", session)
        measured = self.send("Runtime.evaluate", session, expression=measure, returnByValue=True)
        visit = PageVisit(measured=(measured.get("result") or {}).get("value"))
        for event in self._events:
            params = event.get("params") or {}
            if event.get("method") == "Network.requestWillBeSent":
                visit.requests.append(params["request"]["url"])
            elif event.get("method") == "Network.loadingFailed":
                visit.failed.append(f"{params.get('requestId')}: {params.get('errorText')}")
            elif event.get("method") == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                visit.console_errors.append(params["entry"].get("text", ""))
            elif event.get("method") == "Runtime.exceptionThrown":
                visit.console_errors.append(json.dumps(params.get("exceptionDetails"))[:300])
        self.send("Target.closeTarget", targetId=target)
        return visit

    def screenshot(self, path: Path, output: Path, width: int = 900, height: int = 2400) -> None:
        """A PNG of the page as a person sees it (for the README)."""
        subprocess.run(
            [
                self.process.args[0],
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                f"--screenshot={output}",
                path.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=PROTOCOL_TIMEOUT_SECONDS,
        )


# Runs in the page: what was drawn, as the browser laid it out.
MEASURE = """(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => ({
    title: svg.getAttribute('aria-label'),
    series: [...svg.querySelectorAll('path.series')].map(p => {
      const box = p.getBBox();
      const extent = box.width > 0 || box.height > 0;
      return {name: p.dataset.series, drawn: p.getAttribute('d').trim().length > 0 && extent};
    }),
    legend: [...svg.querySelectorAll('.legend-entry')].map(e => e.dataset.series),
    markers: [...svg.querySelectorAll('.marker')].map(m => m.dataset.kind + ':' + m.textContent),
  }));
  const links = [...document.querySelectorAll('[src],[href]')]
    .map(e => e.getAttribute('src') || e.getAttribute('href'));
  const unavailable = [...document.querySelectorAll('.unavailable')].map(e => e.textContent);
  return {charts, links, unavailable, sections: [...document.querySelectorAll('section')].map(s => s.id)};
})()"""
