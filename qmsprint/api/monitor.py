"""Watching a running pilot: ``qmsprint monitor`` (:func:`monitor` once, :func:`watch` on a schedule).

One check:

1. load and validate the data (:func:`qmsprint.data.prepare`); invalid data is an ``invalid_data``
   alert and exit code 3;
2. when the data changed since the last check (their fingerprint), run the whole analysis into a
   new run folder (:func:`qmsprint.api.run_pilot`, without the checklist diagnosis): health checks,
   estimation, the recommendation; otherwise only the health checks run again (the model's
   conditions stay as the last estimation left them). The models are compiled with their data as
   inputs (:func:`qmsprint.models.many_pilots`), so a later check, in this process or another,
   loads them from the compiled-model cache instead of compiling again;
3. collect the conditions that hold now, each under a key: ``srm`` (sample ratio mismatch of units
   or interactions), ``response_gap`` and ``contamination`` (health checks in ``alert``),
   ``pre_trends`` (roll-out designs), ``guardrail:<metric>`` (a guardrail whose probability of harm
   beyond its margin passed ``[decision] guardrail_max_risk``: a warning while it is at risk, an
   alert once it vetoes), ``not_converged:<metric>`` (a fit that misses the convergence bars) and
   ``decisive_now`` (the stopping rule of :mod:`qmsprint.decide.stopping` says stop);
4. compare with the previous check of the same pilot: a condition that is new (or more severe) is
   *raised*, one that went away is *cleared*. Both go to ``alerts.jsonl`` beside the runs, the
   check itself to ``monitor.jsonl`` (:mod:`qmsprint.store.alerts`), and raised alerts are POSTed as
   JSON to ``[monitor] webhook`` when the experiment file has one.

Exit codes (:attr:`MonitorResult.exit_code`): 0 nothing new; 7 a new alert or warning was raised;
8 the only news is that the pilot is decisive now; 2 invalid experiment file; 3 invalid data.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qmsprint.api.validation import SpecLike, as_spec
from qmsprint.errors import DataError
from qmsprint.progress import Progress, silent

EXIT_OK = 0
EXIT_ALERT = 7
EXIT_DECISIVE = 8
SEVERITY = {"info": 0, "warn": 1, "alert": 2}
HEALTH_KINDS = {
    "srm_units": "srm",
    "srm_interactions": "srm",
    "response_rate": "response_gap",
    "contamination": "contamination",
    "pre_trends": "pre_trends",
}
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass
class MonitorResult:
    """What one monitoring check found.

    Attributes
    ----------
    pilot
        The experiment's name.
    record
        The check as written to ``monitor.jsonl``.
    raised, cleared
        Alert events of this check (as written to ``alerts.jsonl``).
    run
        The run folder this check wrote (None when the data had not changed).
    exit_code
        0 nothing new, 7 a new alert or warning, 8 decisive now (and nothing else new).

    """

    pilot: str
    record: dict[str, Any]
    raised: list[dict[str, Any]] = field(default_factory=list)
    cleared: list[dict[str, Any]] = field(default_factory=list)
    run: Path | None = None
    exit_code: int = EXIT_OK

    def summary(self) -> str:
        """Plain-text lines for the terminal."""
        from qmsprint.present.monitor import check_summary

        return check_summary(self.record, self.raised, self.cleared)


def parse_every(text: str) -> float:
    """Seconds of an interval like ``1d``, ``12h``, ``30m``, ``90s`` or ``2w`` (a bare number is seconds).

    Raises
    ------
    ValueError
        For anything else, or an interval under one second.

    """
    t = str(text).strip().lower()
    unit = t[-1] if t and t[-1] in UNITS else "s"
    number = t[:-1] if t and t[-1] in UNITS else t
    try:
        seconds = float(number) * UNITS[unit]
    except ValueError:
        raise ValueError(f"expected an interval like 1d, 12h, 30m or 90s (got {text!r})") from None
    if not seconds >= 1:
        raise ValueError(f"the interval must be at least one second (got {text!r})")
    return seconds


def post_webhook(url: str, payload: dict[str, Any], timeout: float) -> str:
    """POST ``payload`` as JSON; returns ``sent (HTTP <status>)`` or ``failed: <reason>`` (never raises)."""
    import qmsprint

    body = json.dumps(payload, default=str).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": f"qmsprint/{qmsprint.__version__}"}
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only (spec check)
            return f"sent (HTTP {resp.status})"
    except (urllib.error.URLError, OSError, ValueError) as err:
        return f"failed: {getattr(err, 'reason', err)}"


def _condition(kind: str, severity: str, message: str, metric: str | None = None) -> tuple[str, dict[str, Any]]:
    key = f"{kind}:{metric}" if metric else kind
    return key, {"key": key, "kind": kind, "severity": severity, "message": message, "metric": metric}


def _health_conditions(health: list[Any]) -> dict[str, dict[str, Any]]:
    """The conditions the health checks raise (checks in ``alert``)."""
    out: dict[str, dict[str, Any]] = {}
    for h in health:
        kind = HEALTH_KINDS.get(h.name)
        if kind and h.status == "alert" and kind not in out:
            key, c = _condition(kind, "alert", h.message)
            out[key] = c
    return out


def _conditions(spec: Any, outcome: Any, health: list[Any]) -> tuple[dict[str, dict[str, Any]], Any]:
    """The conditions that hold after a run, and the stopping check."""
    from qmsprint.decide.stopping import stop_check
    from qmsprint.present.monitor import decisive_message, guardrail_message, not_converged_message

    out = _health_conditions(health)
    rec = outcome.recommendation
    for v in rec.verdicts.values():
        if v.role == "guardrail" and v.guardrail in ("at_risk", "veto"):
            key, c = _condition(
                "guardrail", "alert" if v.guardrail == "veto" else "warn", guardrail_message(v), v.metric
            )
            out[key] = c
    for r in outcome.results:
        if not r.diagnostics.converged:
            key, c = _condition(
                "not_converged", "alert", not_converged_message(r.metric, r.diagnostics.problems), r.metric
            )
            out[key] = c
    stop = stop_check(spec, outcome.results, rec.action, rec.verdicts)
    if stop.stop:
        key, c = _condition("decisive_now", "info", decisive_message(stop, rec.headline))
        out[key] = c
    return out, stop


def _effects(spec: Any, results: list[Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for r in results:
        h, m = r.headline, spec.metric(r.metric)
        out[r.metric] = {
            "scale": h.scale,
            "unit": h.unit,
            "mean": h.mean,
            "hdi_low": h.hdi_low,
            "hdi_high": h.hdi_high,
            "prob_improve": h.prob_improve,
            "prob_meaningful": h.prob_meaningful,
            "min_effect": m.threshold,
            "better": m.better,
            "role": m.role,
        }
    return out


def monitor(
    spec: SpecLike,
    *,
    runs_dir: str | Path | None = None,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> MonitorResult:
    """One monitoring check of a running pilot (see the module docstring).

    Parameters
    ----------
    spec
        The experiment file (or its path).
    runs_dir
        Folder of the run folders, ``alerts.jsonl`` and ``monitor.jsonl`` (default: the spec's).
    progress
        ``progress(message, fraction)`` callback.
    now
        Time stamp of the check (default: now).

    Returns
    -------
    MonitorResult

    Raises
    ------
    SpecError
        Invalid experiment file (nothing is written).
    DataError
        Invalid data: an ``invalid_data`` alert is appended first.

    """
    spec = as_spec(spec)
    from qmsprint.api.pilot import run_pilot
    from qmsprint.data import prepare
    from qmsprint.store import load_run
    from qmsprint.store.alerts import append_alerts, append_check, read_checks

    prog = progress or silent
    folder = Path(runs_dir) if runs_dir is not None else spec.runs_dir
    stamp = (now or dt.datetime.now()).isoformat(timespec="seconds")
    history = read_checks(folder, pilot=spec.name)
    prev = history[-1] if history else {}
    number = len(history) + 1
    base = {"time": stamp, "pilot": spec.name, "check": number}
    prev_active: dict[str, dict[str, Any]] = {c["key"]: c for c in prev.get("conditions", [])}
    try:
        prog("reading the data", 0.0)
        prepared = prepare(spec)
    except DataError as err:
        alert = {**base, "event": "raised", "kind": "invalid_data", "key": "invalid_data", "severity": "alert"}
        alert |= {"message": str(err), "metric": None, "run": None}
        append_alerts(folder, [alert])
        append_check(
            folder,
            {
                **base,
                "estimated": False,
                "error": str(err),
                "exit_code": err.exit_code,
                "conditions": list(prev_active.values()),
                "active": sorted(prev_active),
            },
        )
        raise
    weeks = prepared.weekly["week"] if "week" in prepared.weekly else []
    record: dict[str, Any] = {
        **base,
        "fingerprint": prepared.fingerprint,
        "rows": prepared.rows_used,
        "data_through": str(max(weeks)) if len(weeks) else None,
        "estimated": False,
        "run": None,
    }
    run_path = None
    if prev.get("fingerprint") == prepared.fingerprint and prev.get("rows") == prepared.rows_used:
        # same data: the health checks again, the model's conditions as the last estimation left them
        from qmsprint.health import check_health

        model_kinds = ("guardrail", "not_converged", "decisive_now")
        now_active = {k: c for k, c in prev_active.items() if c["kind"] in model_kinds}
        now_active |= _health_conditions(check_health(spec, prepared))
        for k in ("action", "converged", "effects", "stop"):
            if k in prev:
                record[k] = prev[k]
    else:
        from qmsprint.models import many_pilots

        with many_pilots():  # every check fits the same structure: its compiles serve the next checks
            outcome = run_pilot(spec, runs_dir=folder, progress=prog, diagnosis=False)
        run_path = outcome.path
        health = load_run(outcome.path).health  # as stored: agent ids pseudonymised
        now_active, stop = _conditions(spec, outcome, health)
        record |= {
            "estimated": True,
            "run": outcome.path.name,
            "converged": outcome.converged,
            "action": outcome.recommendation.action,
            "effects": _effects(spec, outcome.results),
            "stop": stop.to_dict(),
        }
    raised = [
        {**base, "event": "raised", **c, "run": record["run"]}
        for k, c in now_active.items()
        if k not in prev_active or SEVERITY[c["severity"]] > SEVERITY[prev_active[k]["severity"]]
    ]
    cleared = [
        {**base, "event": "cleared", **c, "run": record["run"]} for k, c in prev_active.items() if k not in now_active
    ]
    if any(a["severity"] != "info" for a in raised):
        code = EXIT_ALERT
    elif raised:
        code = EXIT_DECISIVE
    else:
        code = EXIT_OK
    hook = spec.monitor.webhook
    if hook and raised:
        payload = {"pilot": spec.name, "time": stamp, "check": number, "run": record["run"], "alerts": raised}
        record["webhook"] = post_webhook(hook, payload, spec.monitor.timeout_seconds)
    record |= {
        "conditions": list(now_active.values()),
        "active": sorted(now_active),
        "raised": [a["key"] for a in raised],
        "cleared": [a["key"] for a in cleared],
        "exit_code": code,
    }
    append_alerts(folder, raised + cleared)
    append_check(folder, record)
    prog(f"check {number} done", 1.0)
    return MonitorResult(spec.name, record, raised, cleared, run_path, code)


def watch(
    spec: SpecLike,
    every: float,
    *,
    checks: int | None = None,
    runs_dir: str | Path | None = None,
    on_result: Callable[[MonitorResult], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> MonitorResult | None:
    """Check every ``every`` seconds (``checks`` times, or until interrupted); returns the last result.

    The experiment file is read again before each check (edits apply to the next one). Invalid data
    does not stop the watch: the error goes to ``on_error`` (and ``alerts.jsonl``) and the next
    check comes at its time; an invalid experiment file stops it.
    """
    last = None
    done = 0
    while checks is None or done < checks:
        try:
            last = monitor(spec, runs_dir=runs_dir)
            if on_result is not None:
                on_result(last)
        except DataError as err:
            if on_error is None:
                raise
            on_error(err)
        done += 1
        if checks is None or done < checks:
            sleep(every)
    return last


def monitor_history(
    runs_dir: str | Path, pilot: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(alert events, check records) of ``qmsprint monitor`` beside the runs in ``runs_dir``, oldest first."""
    from qmsprint.store.alerts import read_alerts, read_checks

    return read_alerts(runs_dir, pilot), read_checks(runs_dir, pilot)
