"""`qmsprint monitor`: a pilot whose data grow week by week raises each alert in the week it appears, once.

The slow test feeds four weekly files of a simulated A/B pilot (one check after each): a handle-time
guardrail broken from week 2 on, interactions of the control arm lost in week 3 (sample ratio
mismatch), and a first-contact-resolution gain large enough for the expected-loss rule to call the
pilot decisive. Alerts go to alerts.jsonl, the exit code and a webhook served on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qmsprint import api
from qmsprint.api.monitor import EXIT_ALERT, EXIT_DECISIVE, EXIT_OK, parse_every, post_webhook
from qmsprint.cli import app
from qmsprint.errors import DataError
from qmsprint.simulate import SimConfig, simulate
from qmsprint.store.alerts import ALERTS_FILE, CHECKS_FILE, append_alerts, read_alerts, read_checks, read_jsonl


@pytest.fixture
def webhook():
    """A local HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it."""
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/qms-hook", got
    server.shutdown()
    server.server_close()


def _spec_text(start: str, end: str, hook: str) -> str:
    return f"""name = "watched"
design = "ab"
[arms]
control = "checklist"
treatment = "behavior"
[data]
source = "data/*.parquet"
[periods.pilot]
start = {start}
end = {end}
[[metrics]]
name = "fcr"
min_effect = 2.0
[[metrics]]
name = "handle_time"
role = "guardrail"
min_effect = 30.0
[model]
team_effects = false
[sampler]
draws = 1000
tune = 600
chains = 2
[monitor]
webhook = "{hook}"
"""


def _weekly_files(seed: int = 7) -> tuple[list[pd.DataFrame], dict]:
    """Four weekly exports: guardrail broken from week 2, 60% of control interactions lost in week 3."""
    sim = simulate(SimConfig(design="ab", n_agents=40, n_teams=4, interactions_per_agent=320, weeks=4,
                             baseline_weeks=0, fcr_effect=0.5, response_rate=(0.6, 0.6), include_nps=False,
                             seed=seed))  # fmt: skip
    f = sim.frame.copy()
    week = ((f["timestamp"] - pd.Timestamp(sim.truth["periods"]["pilot"]["start"])).dt.days // 7).to_numpy()
    treated = (f["arm"] == "behavior").to_numpy()
    ht = f["handle_time"].to_numpy().copy()
    ht[(week >= 1) & treated] *= 1.6
    f["handle_time"] = ht
    lost = (week == 2) & ~treated & (np.random.default_rng(seed).random(len(f)) < 0.6)
    f, week = f[~lost], week[~lost]
    return [f[week == k].reset_index(drop=True) for k in range(4)], sim.truth


# ------------------------------------------------------------------------------ fast


def test_parse_every():
    assert parse_every("1d") == 86400 and parse_every("12h") == 43200 and parse_every("30m") == 1800
    assert parse_every("90s") == parse_every("90") == 90 and parse_every("2w") == 14 * 86400
    for bad in ("often", "0s", "-1h", ""):
        with pytest.raises(ValueError):
            parse_every(bad)


def test_alert_files_are_append_only_and_skip_damaged_lines(tmp_path):
    append_alerts(tmp_path, [{"pilot": "a", "kind": "srm"}, {"pilot": "b", "kind": "srm"}])
    with open(tmp_path / ALERTS_FILE, "a", encoding="utf-8") as fh:
        fh.write('{"pilot": "a", "kind": "cut off mid-li')  # a disk that filled up mid-line
    append_alerts(tmp_path, [{"pilot": "a", "kind": "guardrail", "when": dt.date(2026, 3, 2)}])
    records, bad = read_jsonl(tmp_path / ALERTS_FILE)
    assert bad == 1 and [r["kind"] for r in records] == ["srm", "srm"]  # the last line was glued to the cut one
    append_alerts(tmp_path, [{"pilot": "a", "kind": "contamination"}])
    assert [r["kind"] for r in read_alerts(tmp_path, "a")] == ["srm", "contamination"]
    assert read_checks(tmp_path) == [] and (tmp_path / ALERTS_FILE).stat().st_mode & 0o777 == 0o600


def test_webhook_posts_json_and_reports_failures(webhook):
    url, got = webhook
    assert post_webhook(url, {"alerts": [{"kind": "srm"}]}, 5.0) == "sent (HTTP 204)"
    assert got == [{"path": "/qms-hook", "type": "application/json", "json": {"alerts": [{"kind": "srm"}]}}]
    assert post_webhook("http://127.0.0.1:9/none", {}, 2.0).startswith("failed:")


def test_invalid_data_is_an_alert_and_exit_code_3(tmp_path):
    (tmp_path / "data").mkdir()
    pd.DataFrame({"interaction_id": ["i1"], "timestamp": ["not a time"], "agent_id": ["a"], "arm": ["checklist"],
                  "fcr": [True], "handle_time": [100.0]}).to_csv(tmp_path / "data" / "w1.csv", index=False)  # fmt: skip
    text = _spec_text("2026-01-05", "2026-02-01", "http://127.0.0.1:9/x").replace("*.parquet", "*.csv")
    (tmp_path / "pilot.toml").write_text(text, encoding="utf-8")
    with pytest.raises(DataError):
        api.monitor(tmp_path / "pilot.toml")
    (alert,) = read_alerts(tmp_path / "runs")
    assert alert["kind"] == "invalid_data" and alert["severity"] == "alert" and alert["pilot"] == "watched"
    res = CliRunner().invoke(app, ["monitor", str(tmp_path / "pilot.toml"), "-q"])
    assert res.exit_code == 3, res.output
    assert len(read_checks(tmp_path / "runs", "watched")) == 2
    # on a schedule: invalid data does not stop the watch; the exit code is the last check's
    res = CliRunner().invoke(app, ["monitor", str(tmp_path / "pilot.toml"), "--every", "1s", "--checks", "2"])
    assert res.exit_code == 3 and res.output.count("error:") == 2, res.output
    assert len(read_alerts(tmp_path / "runs")) == 4
    res = CliRunner().invoke(app, ["monitor", str(tmp_path / "pilot.toml"), "--every", "soon"])
    assert res.exit_code == 2 and "--every" in res.output


# ------------------------------------------------------------------------------ four weekly files


@pytest.mark.slow
def test_monitor_raises_each_alert_in_the_week_it_is_planted(tmp_path, webhook, monkeypatch):
    from qmsprint.models import clear_cache
    from qmsprint.models import compile_cache as cc

    monkeypatch.setenv(cc.ENV_DIR, str(tmp_path / "compile-cache"))
    url, posted = webhook
    parts, truth = _weekly_files()
    per = truth["periods"]["pilot"]
    spec_file = tmp_path / "pilot.toml"
    spec_file.write_text(_spec_text(per["start"], per["end"], url), encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    results, compiles, hits = [], [], cc.stats.hits
    for k, part in enumerate(parts, start=1):
        part.to_parquet(data / f"week{k}.parquet")
        clear_cache()  # each check as a new process (cron): only the disk cache carries over
        compiles.append(cc.stats.misses)
        if k < 4:
            results.append(api.monitor(spec_file))
        else:  # the last check through the CLI, as a scheduler calls it
            out = CliRunner().invoke(app, ["monitor", str(spec_file), "-q"])
            results.append(out)
    # the first check compiled its two models with the data as inputs; the later ones, on more data, load
    # them (baked-in data would compile both again in every check), except for the one model whose
    # parametrisation the growing data changes (handle time's agent effects turn centred in week 3)
    assert compiles[1] - compiles[0] == 2 and cc.stats.misses - compiles[1] == 1, compiles
    assert cc.stats.hits - hits == 5  # 2 + 1 + 2 models loaded in checks 2-4
    raised = [[a["key"] for a in r.raised] for r in results[:3]]
    alerts = read_alerts(tmp_path / "runs", "watched")
    by_check = {k: [a["key"] for a in alerts if a["check"] == k and a["event"] == "raised"] for k in (1, 2, 3, 4)}
    assert by_check == dict(enumerate(raised + [by_check[4]], start=1))
    # "decisive now" once, the guardrail in week 2 (planted), the sample ratio mismatch in week 3 (planted)
    everything = [key for keys in by_check.values() for key in keys]
    assert everything.count("decisive_now") == 1, by_check
    assert "guardrail:handle_time" in by_check[2] and "guardrail:handle_time" not in by_check[1]
    assert "srm" in by_check[3] and all("srm" not in by_check[k] for k in (1, 2, 4))
    assert by_check[4] == [] and results[3].exit_code == EXIT_OK, results[3].output
    assert not [key for key in everything if key.startswith("not_converged")]
    assert results[1].exit_code == EXIT_ALERT and results[2].exit_code == EXIT_ALERT
    assert results[0].exit_code == (EXIT_DECISIVE if by_check[1] == ["decisive_now"] else EXIT_OK), by_check
    # one run folder per week, each check recorded with the effect over time
    checks = read_checks(tmp_path / "runs", "watched")
    assert [c["check"] for c in checks] == [1, 2, 3, 4] and all(c["estimated"] for c in checks)
    assert len({c["run"] for c in checks}) == 4 and all((tmp_path / "runs" / c["run"]).is_dir() for c in checks)
    ht = [c["effects"]["handle_time"]["mean"] for c in checks]
    assert ht[0] < 30 < ht[1] and checks[-1]["active"] == sorted(checks[-1]["active"])
    assert {"srm", "guardrail:handle_time", "decisive_now"} <= set(checks[-1]["active"])
    # the webhook got every check's new alerts, nothing else
    assert [[a["key"] for a in p["json"]["alerts"]] for p in posted] == [keys for keys in by_check.values() if keys]
    assert all(c.get("webhook", "").startswith("sent") for c in checks if c["raised"])
    # a check without new data changes nothing
    again = api.monitor(spec_file)
    assert not again.record["estimated"] and again.raised == [] and again.exit_code == EXIT_OK
    assert len(list((tmp_path / "runs").glob("watched-*"))) == 4
    assert (tmp_path / "runs" / CHECKS_FILE).is_file()
