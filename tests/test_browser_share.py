"""A client's view, in a real browser: nothing about people or the consultant's machine leaves a share.

A simulated pilot whose agent and customer ids are known is read from a DuckDB database (so the
experiment file holds a connection string) by an experiment file with comments; one agent changes
team during the pilot and one has few interactions, so the contamination check and the data
warnings have someone to name. ``qmsprint app RUN --share`` serves the run with a password; the
test logs in in headless Chromium, opens every page (and every expander), downloads every file
offered, and records every byte the server sends over its WebSocket. None of it may hold a real
agent id, a customer id, an absolute path of this machine, the connection string or the
experiment file's comments. It also checks that the share listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import SMALL_SIM
from test_browser import ARGS, CHROMIUM, SHOTS, _free_port, _settle

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "northwind reads the pilot results"
SECRET_COMMENT = "swordfish-ops-db-note"
PAGES = ["Recommendation", "Metrics", "Segments", "Diagnosis", "Design", "Data quality & trust"]  # at least
OFFERED = ["HTML report", "Effects (CSV)"]


def _open_page(page, link) -> None:
    """Click a navigation link and wait until that page (not the one before it) has drawn."""
    target = urlparse(link.get_attribute("href") or "").path.rstrip("/")
    link.click()
    page.wait_for_url(lambda u: urlparse(u).path.rstrip("/") == target, timeout=30_000)
    _settle(page)


def _open_expanders(page) -> None:
    """Open every expander, finding each again by position (a redraw replaces the elements)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    summaries = page.locator("[data-testid='stExpander'] summary")
    i = 0
    while i < summaries.count():
        for attempt in range(3):
            try:
                summaries.nth(i).click(timeout=10_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
                _settle(page)
        i += 1


def _employee(i: int) -> str:
    return f"EMP-{7001 + i}-ana.ruiz"  # "-" and "." never occur in base64, so no chance match in chart data


@pytest.fixture(scope="module")
def leaky_pilot(tmp_path_factory):
    """(run folder, secrets that must never show) of a pilot read from a database by a commented file."""
    import duckdb

    from qmsprint import api
    from qmsprint.simulate import SimConfig, simulate
    from qmsprint.spec import load_spec

    root = tmp_path_factory.mktemp("leaky")
    sim = simulate(SimConfig(**SMALL_SIM))
    frame = sim.frame.copy()
    agents = sorted(frame["agent_id"].astype(str).unique())
    frame["agent_id"] = frame["agent_id"].astype(str).map({a: _employee(i) for i, a in enumerate(agents)})
    frame["customer_id"] = "CUST-" + frame["customer_id"].astype(str) + "-x"
    pilot = frame["timestamp"] >= str(sim.truth["periods"]["pilot"]["start"])
    first = frame["agent_id"] == _employee(0)
    frame.loc[first & pilot, "team"] = ["T00", "T01"] * int((first & pilot).sum() // 2) + ["T00"] * int(
        (first & pilot).sum() % 2
    )  # changes team during the pilot: the contamination check names this agent
    rare = frame.index[frame["agent_id"] == _employee(1)]
    frame = frame.drop(rare[12:])  # few interactions: the data warnings name this agent
    db = root / "client-db" / "pilot.duckdb"
    db.parent.mkdir()
    with duckdb.connect(str(db)) as con:
        con.register("frame", frame)
        con.execute("CREATE TABLE interactions AS SELECT * FROM frame")
    periods = sim.truth["periods"]
    spec_file = root / "experiments" / "northwind.toml"
    spec_file.parent.mkdir()
    spec_file.write_text(
        f"""# Northwind pilot -- {SECRET_COMMENT}: ask ops for the replica password
name = "northwind-share"
client = "Northwind"
design = "ab"
segments = ["team"]
[arms]
control = "checklist"
treatment = "behavior"
[data]
connection = "duckdb:///{db}"
table = "interactions"
[periods.baseline]
start = {periods["baseline"]["start"]}
end = {periods["baseline"]["end"]}
[periods.pilot]
start = {periods["pilot"]["start"]}
end = {periods["pilot"]["end"]}
[[metrics]]
name = "csat"
role = "primary"
min_effect = 0.1
[[metrics]]
name = "repeat_contact"
role = "primary"
min_effect = 1.0
[sampler]
draws = 100
tune = 100
chains = 2
seed = 11
time_budget_s = 0
[business]
cost_per_contact = 5.0
currency = "EUR"
contacts_per_month = 50000
""",
        encoding="utf-8",
    )
    outcome = api.run_pilot(load_spec(spec_file), runs_dir=root / "runs", diagnosis=False)  # lean: sampling once
    people = [_employee(i) for i in range(len(agents))] + sorted(frame["customer_id"].unique())
    secrets = ["duckdb://", str(db), SECRET_COMMENT, "replica password"]
    paths = [str(root), str(ROOT), str(db.parent)]
    return outcome.path, people + secrets, paths


def _non_loopback_address() -> str | None:
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        address = s.getsockname()[0]
        return None if address.startswith("127.") else address
    return None


@contextlib.contextmanager
def _share_server(run: Path, home: Path, log: Path):
    """``qmsprint app RUN --share`` (the launcher) with a password in ./.streamlit/secrets.toml."""
    (home / ".streamlit").mkdir(parents=True)
    (home / ".streamlit" / "secrets.toml").write_text(f'password = "{PASSWORD}"\n[share]\nclient_name = "Northwind"\n')
    port = _free_port()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "qmsprint", "app", str(run), "--share", "--port", str(port), "--headless"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the share stopped ({proc.returncode}):\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the share did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _readable(data: bytes) -> str:
    """A downloaded file as text to search; a zip's members unpacked (binary parts as latin-1)."""
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "\n".join(zf.read(n).decode("latin-1") for n in zf.namelist())
    return data.decode("utf-8", "replace")


def _leaks(blob: str, forbidden: list[str]) -> list[str]:
    return [f for f in forbidden if f and f in blob]


def test_a_share_shows_and_hands_out_nothing_about_people_or_machines(leaky_pilot, tmp_path):
    from playwright.sync_api import sync_playwright

    run, forbidden, paths = leaky_pilot
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (apt-get install chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: dict[str, object] = {}
    with _share_server(run, tmp_path / "home", tmp_path / "share.log") as (url, port):
        outside = _non_loopback_address()
        if outside is not None:  # the share listens on 127.0.0.1 only: a TLS proxy publishes it
            with socket.socket() as s, contextlib.suppress(OSError):
                s.settimeout(2)
                s.connect((outside, port))
                problems["address"] = f"the share answers on {outside}:{port}; it must listen on 127.0.0.1 only"
        frames: list[str] = []
        texts: list[str] = []
        files: dict[str, bytes] = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1600}, accept_downloads=True)
            page.on(
                "websocket",
                lambda ws: ws.on(
                    "framereceived",
                    lambda payload: frames.append(
                        payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
                    ),
                ),
            )
            page.goto(url, wait_until="domcontentloaded")
            _settle(page)
            page.get_by_text("Please log in").wait_for(timeout=30_000)
            texts.append(page.locator("body").inner_text())
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("heading", name="Recommendation").first.wait_for(timeout=60_000)
            _settle(page)
            sidebar = page.locator("[data-testid='stSidebar']")
            offered = [b.inner_text().strip() for b in sidebar.locator("[data-testid='stDownloadButton'] button").all()]
            offered = [re.sub(r"^\W+", "", o.split("\n")[-1]).strip() for o in offered]
            if offered != OFFERED:
                problems["downloads offered"] = offered
            for button in sidebar.locator("[data-testid='stDownloadButton'] button").all():
                with page.expect_download(timeout=120_000) as d:
                    button.click()
                files[d.value.suggested_filename] = Path(d.value.path()).read_bytes()
            nav = page.locator("[data-testid='stSidebarNav']")
            links = [a.inner_text().strip().split("\n")[-1].strip() for a in nav.get_by_role("link").all()]  # no icon
            assert set(PAGES) <= set(links) and "New run" not in links, links
            for link in links:  # every page the share offers
                _open_page(page, nav.get_by_role("link", name=link))
                _open_expanders(page)
                for tab in page.locator("[data-baseweb='tab']").all():
                    tab.click()
                    _settle(page)
                _settle(page)
                assert page.locator("[data-testid='stException']").count() == 0, link
                texts.append(page.locator("body").inner_text())
                shot = re.sub(r"\W+", "-", link.lower())
                page.screenshot(path=str(SHOTS / f"share-{shot}.png"), full_page=True)
            browser.close()
    assert any(n.endswith(".html") for n in files), sorted(files)
    # everything the server sends: no person, no connection string, no comment of the experiment file
    # (the WebSocket also carries Streamlit's own session data, with the path of the app's entry script)
    for name, blob, banned in [("page text", "\n".join(texts), forbidden + paths),
                               ("websocket", "\n".join(frames), forbidden)] + [
        (f"download {n}", _readable(b), forbidden + paths) for n, b in files.items()
    ]:  # fmt: skip
        found = _leaks(blob, banned)
        if found:
            problems[name] = found[:5]
    if problems:
        pytest.fail("the share leaks:\n" + "\n".join(f"- {where}: {what}" for where, what in problems.items()))
    assert "agent-" in "\n".join(texts + frames)  # the pages do talk about agents: by pseudonym
