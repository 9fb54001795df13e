"""Screenshots of the Dagster UI pages the closing note names, with headless Chromium driven
over the DevTools protocol (no browser automation package needed: `websockets` comes with
uvicorn).

    chromium must be on PATH (apt-get install chromium: for screenshots only, never for
    `make demo` or `make test`), `dagster dev` and `epochpod serve` running on the instance
    that `make demo` filled:

    .venv/bin/python docs/screenshots/capture.py --ui http://127.0.0.1:3000 --episode EP_ID

Writes runs.png, materialization.png (+ -preview: the script preview opened), launchpad.png
(a request the typed form refuses) and launchpad-launch.png (one the request model refuses at
launch) beside this file.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

HERE = Path(__file__).resolve().parent
# A request the launchpad's typed form refuses as it is typed: no topic, minutes as a word,
# a voice that does not exist.
MISSING_FIELD = """interview:
  guest_name: Ada Lovelace
  target_minutes: "five"
  host_voice: darth
"""
# Well typed, refused by the request model when the launch is built: a blank topic, and the
# host given the guest's voice.
BAD_ORDER = """interview:
  guest_name: Ada Lovelace
  topic: "   "
  host_voice: echo
"""


class Page:
    def __init__(self, ws_url: str) -> None:
        self.ws = connect(ws_url, max_size=64 * 1024 * 1024).__enter__()
        self.next_id = 0

    def call(self, method: str, **params: Any) -> Any:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for_text(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(f"document.body && document.body.innerText.includes({json.dumps(text)})"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"page never showed {text!r}")

    def go(self, url: str, text: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for_text(text)
        time.sleep(2)  # let the rest of the page settle

    def click_text(self, text: str) -> None:
        clicked = self.js(
            "(() => { const el = [...document.querySelectorAll('button, a, span, div')]"
            f".reverse().find(e => e.innerText && e.innerText.trim() === {json.dumps(text)});"
            " if (el) { el.click(); return true; } return false; })()"
        )
        if not clicked:
            raise LookupError(f"nothing to click labelled {text!r}")

    def shot(self, name: str) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path = HERE / name
        path.write_bytes(base64.b64decode(data))
        return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ui", default="http://127.0.0.1:3000")
    parser.add_argument("--episode", required=True, help="an episode published by make demo")
    parser.add_argument("--port", type=int, default=9333)
    args = parser.parse_args()
    profile = tempfile.mkdtemp(prefix="epochpod-chromium-")
    browser = subprocess.Popen(
        [
            shutil.which("chromium") or "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--remote-debugging-port={args.port}",
            f"--user-data-dir={profile}",
            "--window-size=1440,1000",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        targets: list[dict[str, Any]] = []
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/json/list") as r:
                    targets = [t for t in json.load(r) if t.get("type") == "page"]
                if targets:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        page = Page(targets[0]["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            width=1440,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )

        page.go(f"{args.ui}/runs", "epochpod/title")
        # Dagster's first-visit newsletter prompt covers the page.
        try:
            page.click_text("Skip")
            time.sleep(1)
        except LookupError:
            pass
        # The backfill's runs too, with the tags the run coordinator gave them.
        page.click_text("Show runs within backfills")
        time.sleep(3)
        print(page.shot("runs.png"))

        page.go(
            f"{args.ui}/assets/published_episode?partition={args.episode}",
            "script_preview",
        )
        print(page.shot("materialization.png"))
        try:
            page.click_text("[Show Markdown]")
            time.sleep(2)
            print(page.shot("materialization-preview.png"))
        except LookupError as error:
            print(error)

        page.go(f"{args.ui}/locations/epochpod/jobs/request_episode/playground", "Launchpad")
        for config, name in ((MISSING_FIELD, "launchpad.png"), (BAD_ORDER, "launchpad-launch.png")):
            page.js(
                "document.querySelector('.CodeMirror').CodeMirror.setValue("
                + json.dumps(config)
                + ")"
            )
            time.sleep(6)  # the launchpad validates after a pause in typing
            if config is BAD_ORDER:
                # Well-typed but refused by the request model when the launch is built.
                page.click_text("Launch Run")
                time.sleep(6)
            print(page.shot(name))
    finally:
        browser.terminate()
        browser.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
