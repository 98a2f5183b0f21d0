"""The shift explorer in a real browser: Voilà serves tests/fixtures/shift_explorer_voila.ipynb on
127.0.0.1, headless Chromium (Debian's, driven by Playwright) moves the K slider with the keyboard,
and the test checks that the kernel redrew: the summary reports K=7 with seven level shares and the
figure's PNG changed. A screenshot is kept as an artefact in ``runs/browser/`` (gitignored).

Needs ``/usr/bin/chromium`` (apt ``chromium``) and the Python packages ``voila`` and
``playwright`` (never ``playwright install``: the system Chromium is used). Skips otherwise.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "tests" / "fixtures" / "shift_explorer_voila.ipynb"
CHROMIUM = os.environ.get("SRSUPM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTEFACTS = ROOT / "runs" / "browser"


def _requirements():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's: apt-get install -y chromium)")
    pytest.importorskip("voila", reason="the Python package 'voila' is not installed (pip install voila)")
    pytest.importorskip("playwright.sync_api",
                        reason="the Python package 'playwright' is not installed (pip install playwright)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"voila did not answer on {url} within {timeout} s")


@pytest.fixture
def voila_url(tmp_path):
    _requirements()
    port = _free_port()
    log = open(tmp_path / "voila.log", "w+")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--ServerApp.ip=127.0.0.1", "--show_tracebacks=True"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url, proc, timeout=30)
        yield url
    except Exception:
        log.seek(0)
        print(log.read()[-4000:])
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_moving_K_in_the_browser_redraws_the_figure(voila_url):
    from playwright.sync_api import expect, sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(voila_url, timeout=45_000)
            summary = page.locator(".srsupm-shift-summary")
            figure = page.locator("img.srsupm-shift-figure")
            expect(summary).to_contain_text("K=5", timeout=45_000)     # the kernel ran the notebook
            expect(figure).to_be_visible()
            before = figure.get_attribute("src")
            assert len(page.locator(".srsupm-shares").inner_text().split(" / ")) == 5

            slider = page.locator(".widget-slider", has_text="levels K")
            handle = slider.locator(".noUi-handle")
            handle.focus()
            handle.press("ArrowRight")
            handle.press("ArrowRight")
            expect(slider.locator(".widget-readout")).to_have_text("7", timeout=10_000)
            expect(summary).to_contain_text("K=7", timeout=20_000)    # the kernel redrew
            shares = [float(s) for s in page.locator(".srsupm-shares").inner_text().split(" / ")]
            assert len(shares) == 7 and abs(sum(shares) - 1) < 0.01
            page.wait_for_function("([sel, old]) => document.querySelector(sel).src !== old",
                                   arg=["img.srsupm-shift-figure", before], timeout=10_000)
            assert figure.get_attribute("src") != before
            page.screenshot(path=str(ARTEFACTS / "shift_explorer_K7.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTEFACTS / "shift_explorer_K7.png").stat().st_size > 10_000
