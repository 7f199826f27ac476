"""A real headless Chromium, driven through the DevTools protocol over a pipe (no extra package).

Chromium started with ``--remote-debugging-pipe`` reads protocol commands from its file descriptor 3
and writes replies and events to descriptor 4, each message a JSON text ended by a NUL byte. That
is all :class:`Chromium` needs: it opens one page, records every request the page makes and every
console message or exception, evaluates JavaScript and takes screenshots.

    with Chromium() as browser:
        page = browser.open("file:///.../report.html", width=1440, height=900)
        page.evaluate("document.title"), page.requests, page.errors

Used by the report tests, and to draw the screenshots in docs/images (``python -m tests.browser``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Browser executables tried in order; HYPERLIGHT_CHROMIUM names another one.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Protects the tests from a browser that stops answering; never a measured duration.
HANG_GUARD_S = 120.0


def find_chromium() -> str | None:
    """The Chromium executable to use, or None when none is installed."""
    names = [os.environ.get("HYPERLIGHT_CHROMIUM", ""), *CANDIDATES]
    return next((path for name in names if name and (path := shutil.which(name))), None)


class BrowserError(RuntimeError):
    """The browser failed, exited or returned a protocol error."""


class Chromium:
    """One headless Chromium process with its own temporary profile."""

    def __init__(self, executable: str | None = None) -> None:
        executable = executable or find_chromium()
        if executable is None:
            raise BrowserError("no Chromium found (apt-get install chromium)")
        self._profile = tempfile.mkdtemp(prefix="hyperlight-chromium-")
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def wire_pipes() -> None:  # in the child: descriptors 3 and 4, as Chromium expects
            high_in = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(replies_write, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            f"--user-data-dir={self._profile}", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--disable-component-update", "--disable-default-apps", "--disable-dev-shm-usage",
            "--hide-scrollbars", "--mute-audio", "about:blank",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            [executable, *flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=wire_pipes,
            close_fds=False,  # Python's own descriptors are not inheritable; 3 and 4 must be
        )
        os.close(commands_read)
        os.close(replies_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    # --- protocol ----------------------------------------------------------------------------------
    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None):
        """Send one command and return its result (events that arrive meanwhile are recorded)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for_event(self, method: str, session: str | None = None) -> dict[str, Any]:
        """Return the first recorded or arriving event ``method`` (of ``session``)."""
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self.events.append(self._read_message())

    def _read_message(self) -> dict[str, Any]:
        deadline = time.monotonic() + HANG_GUARD_S
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._replies], [], [], max(left, 0))
            if not ready:
                raise BrowserError(f"Chromium sent nothing for {HANG_GUARD_S:.0f} s")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited: {self._stderr_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _stderr_tail(self) -> str:
        self._process.kill()
        _, stderr = self._process.communicate(timeout=30)
        return stderr.decode(errors="replace")[-2000:]

    # --- pages -------------------------------------------------------------------------------------
    def open(self, url: str, *, width: int = 1440, height: int = 900) -> Page:
        """Open ``url`` in a new tab of ``width`` x ``height`` CSS pixels; return once it loaded."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", metrics, session=session)
        first_event = len(self.events)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for_event("Page.loadEventFired", session)
        return Page(self, session, first_event)

    def close(self) -> None:
        """Stop the browser and remove its profile."""
        if self._process.poll() is None:
            with contextlib.suppress(BrowserError):
                self.send("Browser.close")
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stderr is not None:
            self._process.stderr.close()
        for descriptor in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Page:
    """A loaded page: JavaScript evaluation, screenshots, and what happened since navigation."""

    def __init__(self, browser: Chromium, session: str, first_event: int) -> None:
        self.browser = browser
        self.session = session
        self._first_event = first_event

    def _events(self) -> Iterator[dict[str, Any]]:
        for event in self.browser.events[self._first_event :]:
            if event.get("sessionId") == self.session:
                yield event

    @property
    def requests(self) -> list[str]:
        """URL of every request the page made (data: URIs included), in order."""
        return [
            event["params"]["request"]["url"]
            for event in self._events()
            if event.get("method") == "Network.requestWillBeSent"
        ]

    @property
    def errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and browser log errors (CSP, loading)."""
        found = []
        for event in self._events():
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning"):
                found.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:2000])
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(params["entry"]["text"])
        return found

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (JSON-serialisable results only)."""
        result = self.browser.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=self.session,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """Save a PNG of the viewport (or of the whole page) to ``path``."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.browser.send("Page.getLayoutMetrics", session=self.session)
            content = size["cssContentSize"]
            params["clip"] = {**{k: content[k] for k in ("x", "y", "width", "height")}, "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.browser.send("Page.captureScreenshot", params, session=self.session)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


def _screenshots_for_docs(out_dir: Path) -> None:
    """Run the digits example briefly (a single trial, an 8-trial search) and save the first screen
    of each report, and the search report's trials and figures, as docs/images/report_*.png."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from ray import tune

    from examples import digits
    from pytorch_hyperlight import Runner

    results = tempfile.mkdtemp(prefix="hyperlight-report-shots-")
    runner = Runner(digits.configure_dataloaders, experiment_id=digits.EXPERIMENT_ID)
    single = runner.run_single_trial(
        digits.LitDigits,
        {**digits.CONFIG, "max_epochs": 8},
        {**digits.EXTRA_CONFIG, "results_dir": results},
    )
    space = {**digits.search_space_config(), "max_epochs": tune.choice([4, 8])}
    search = runner.run_hyper_opt(
        digits.LitDigits, space, {**digits.tune_config(n_samples=8), "results_dir": results}
    )
    with Chromium() as browser:
        for name, result in (("single_trial", single), ("search", search)):
            page = browser.open((Path(result["run_dir"]) / "report.html").as_uri())
            assert not page.errors, page.errors
            page.screenshot(out_dir / f"report_{name}.png")
        for section in ("trials", "figures"):
            page.evaluate(f"document.getElementById('{section}').scrollIntoView()")
            page.screenshot(out_dir / f"report_search_{section}.png")
    shutil.rmtree(results, ignore_errors=True)


if __name__ == "__main__":
    _screenshots_for_docs(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
