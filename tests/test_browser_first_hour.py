"""A consultant's first hour in a real browser, on a messy client export (headless Debian Chromium).

`qmsprint app` (the real launcher, standard input closed) on an empty engagement folder -> "Set up
a pilot": upload the client's CSV (client column names, day-first dates, "4 - Satisfied" labels,
Yes/No answers) -> accept the suggested mapping -> fix one column by hand -> arms and periods ->
validate -> run with small sampler settings -> go to another page, reload, come back while it runs
-> the run opens on its recommendation. A screenshot of each step goes to ``test-output/first-hour/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _export_helpers import messy_export

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "first-hour"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
RUN_TIMEOUT_MS = 1_200_000  # the run itself: two metrics, 2 chains x 100 draws, the sizing (minutes on a busy machine)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url(tmp_path):
    """`qmsprint app` on an engagement folder with no runs yet; stopped (SIGTERM to the launcher) afterwards."""
    (tmp_path / "runs").mkdir()
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    log = (tmp_path / "app.log").open("w")
    env = {**os.environ, "HOME": str(home)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "qmsprint"), "app", "--port", str(port), "--runs-dir", "runs",
         "--data-dir", "data", "--experiments-dir", "experiments"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "app.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield url, tmp_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _settle(page) -> None:
    page.wait_for_selector(IDLE, timeout=120_000)
    page.wait_for_load_state("networkidle")
    time.sleep(0.8)
    page.wait_for_selector(IDLE, timeout=120_000)


def _shot(page, name: str) -> Path:
    """A screenshot of the whole page (the app scrolls inside its main block: grow the window to fit)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(900, int(height) + 40)})
    time.sleep(0.4)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    return path


def _clean(page) -> None:
    """A client-facing page: no error, no Deploy button, no Streamlit promotion."""
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0
    assert page.locator("[data-testid='stSkillsNudge']").count() == 0
    assert page.get_by_text("Help agents write better apps").count() == 0


def _choose(page, label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    box.fill(option.split(" (")[0])  # type to filter: long lists show only their first options
    page.get_by_role("option", name=option, exact=True).click()
    _settle(page)
    assert box.input_value() == option


def _day(page, label: str, ddmmyyyy: str) -> None:
    page.get_by_role("spinbutton", name=f"day, {label}").click()
    page.keyboard.type(ddmmyyyy)
    page.keyboard.press("Escape")
    _settle(page)


def _untick(page, label: str) -> None:
    box = page.get_by_role("checkbox", name=label, exact=True)
    if box.is_checked():
        box.locator("xpath=ancestor::label[1]").click()  # the box's label (the input itself is drawn over)
        _settle(page)
    assert not box.is_checked()


def _running_or_done(page) -> bool:
    """The run's panel is there: True while it runs, False once it has finished."""
    running = page.get_by_text("Running: northwind-export").first
    done = page.get_by_text("Run finished").first
    running.or_(done).wait_for(timeout=60_000)
    return running.is_visible()


def test_the_first_hour_on_a_messy_export(app_url, browser, tmp_path):
    url, folder = app_url
    export = messy_export(tmp_path / "client" / "northwind_export.csv")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # 1. a new engagement opens on "Set up a pilot"
    page.goto(url, wait_until="domcontentloaded")
    _settle(page)
    page.wait_for_url("**/setup")
    page.get_by_role("heading", name="Set up a pilot").first.wait_for()
    assert page.title().startswith("Set up a pilot")
    icon = page.evaluate("() => document.querySelector('link[rel*=icon]').href")
    assert icon.startswith(url), icon  # the app's own icon, served by the app (no third-party request)
    _clean(page)
    _shot(page, "01-start")

    # 2. upload the client's export: every column gets a suggestion, the data validates
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(export))
    _settle(page)
    page.get_by_text("qmsprint reads all 864 rows of the export with this mapping").wait_for(timeout=120_000)
    for label, column in (("Date and time *", "Date/Time"), ("Program (arm) *", "Program"),
                          ("CSAT (survey answer)", "CSAT"), ("First contact resolution", "Resolved?")):  # fmt: skip
        assert page.get_by_role("combobox", name=label, exact=True).input_value() == column, label
    _clean(page)
    _shot(page, "02-suggested-mapping")

    # 3. fix one column by hand: the contact reason is the Queue column
    _choose(page, "Contact reason", "Queue")
    page.get_by_text("chosen by hand", exact=True).wait_for()
    page.get_by_text("qmsprint reads all 864 rows of the export with this mapping").wait_for()
    _shot(page, "03-column-fixed-by-hand")

    # 4. arms and periods
    _choose(page, "Current program (control)", "Current QA (433 rows)")
    _choose(page, "New program (treatment)", "Pilot QA (431 rows)")
    page.get_by_text("The export has a baseline before the pilot", exact=True).click()
    _settle(page)
    _day(page, "Pilot from", "19012026")
    _day(page, "Baseline to", "18012026")
    assert page.get_by_text("The baseline must end before the pilot starts").count() == 0
    _shot(page, "04-arms-and-periods")

    # 5. two metrics and small sampler settings, so the run takes minutes, not an hour
    for label in ("Use NPS", "Use First contact resolution", "Use Handle time"):
        _untick(page, label)
    page.get_by_text("Sampler settings").click()
    _settle(page)
    for label, value in (("Draws per chain", "100"), ("Warm-up steps per chain", "100"), ("Chains", "2")):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        _settle(page)
    _untick(page, "Also diagnose the checklist on the baseline (the slowest step)")
    page.get_by_text("The experiment file", exact=True).click()
    _settle(page)
    assert page.get_by_text('contact_reason = "Queue"').count() >= 1
    _shot(page, "05-metrics-and-the-experiment-file")

    # 6. validate
    page.get_by_role("button", name="Validate").click()
    _settle(page)
    page.get_by_text("The experiment file and the data are valid.").wait_for(timeout=120_000)
    _clean(page)
    _shot(page, "06-validated")

    # 7. run: it goes on in the background, whatever the browser does; a reload (a new session) finds it
    page.get_by_role("button", name="Run the analysis").click()
    _settle(page)
    page.get_by_text("Running: northwind-export").first.wait_for(timeout=60_000)
    _shot(page, "07-running")
    page.reload(wait_until="domcontentloaded")
    _settle(page)
    _running_or_done(page)
    _shot(page, "08-reloaded-during-the-run")

    # 8. away and back while it runs (the builder's choices are kept across pages: test_app_setup.py)
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Compare pilots").click()
    page.wait_for_url("**/compare")
    _settle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    assert sidebar.get_by_text("Running northwind-export").count() + sidebar.get_by_text("Open the new run").count()
    _clean(page)
    _shot(page, "09-another-page-during-the-run")
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Set up a pilot").click()
    page.wait_for_url("**/setup")
    _settle(page)
    still_running = _running_or_done(page)
    _shot(page, "10-back-during-the-run")

    # 9. the run opens on its recommendation: by itself when this page saw it finish, else with a click
    if still_running:
        page.wait_for_url("**/recommendation", timeout=RUN_TIMEOUT_MS)
    else:
        page.get_by_role("button", name="Open the run").click()
        page.wait_for_url("**/recommendation", timeout=60_000)
    _settle(page)
    page.get_by_role("heading", name="Recommendation").first.wait_for(timeout=60_000)
    _clean(page)
    _shot(page, "11-recommendation")
    runs = [p for p in (folder / "runs").iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1 and runs[0].name.startswith("northwind-export-")

    # 10. links into the app work: every page has its URL (the first one too)
    for path, heading in (("metrics", "Metrics"), ("recommendation", "Recommendation")):
        page.goto(f"{url}/{path}", wait_until="domcontentloaded")
        _settle(page)
        page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
        assert page.get_by_text("Page not found").count() == 0, path
        _clean(page)
    assert not errors, errors
    _share_link(browser, runs[0], tmp_path)


def _share_link(browser, run: Path, tmp_path: Path) -> None:
    """A client's link to a page of a share opens the login, then that page (never "Page not found")."""
    from qmsprint.serve import build_command
    from qmsprint.ui.config import SHARE, AppConfig

    secrets = tmp_path / "share-secrets.toml"
    secrets.write_text('password = "Northwind-pilot-share-7Qx2"\n')
    port = _free_port()
    config = AppConfig(mode=SHARE, run_folder=run, runs_dir=run.parent)
    cmd = build_command(config, port=port, secrets=secrets)
    assert cmd[cmd.index("--client.showErrorDetails") + 1] == "none"
    proc = subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, **config.to_env()}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "the share did not start"
                time.sleep(0.5)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/metrics", wait_until="domcontentloaded")
        _settle(page)
        page.get_by_label("Password", exact=True).wait_for(timeout=30_000)
        assert page.get_by_text("Page not found").count() == 0
        _clean(page)
        _shot(page, "12-share-link-before-login")
        page.get_by_label("Password", exact=True).fill("Northwind-pilot-share-7Qx2")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="Metrics").first.wait_for(timeout=60_000)
        _settle(page)
        assert page.url.endswith("/metrics")
        _clean(page)
        _shot(page, "13-share-link-after-login")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
