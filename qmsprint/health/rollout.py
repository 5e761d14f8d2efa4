"""Health checks of the roll-out designs (waves, prepost), on weekly cells.

``waves``
    The roll-out itself: switching units per wave and the units that never switch (the comparison
    group). Alert when no unit switches or no week has a unit still on the current program next to
    one on the new program; warn for units that went back to the current program after switching.
``pre_trends``
    Per wave and metric, in the weeks before the wave's switch: the weekly gap between the wave's
    units and the units not yet (or never) switching, regressed on the week
    (:func:`qmsprint.stats.trend_slope`). Alert when the slope is clearly non-zero (p < 0.01) and it
    would move the estimate by at least half the metric's ``min_effect`` over the weeks after the
    switch; warn at p < 0.05. Fewer than 3 weeks before a switch: not checked.
``srm_interactions``
    Waves: interactions per unit-week after the switch against before, relative to the same change
    in the units not switching in those weeks (Welch test over switching units). Lost or duplicated
    interactions on one program show as a jump at the switch. Alert at p < 0.001 with at least a
    10% change, warn at p < 0.01.
``no_control``
    Before/after: always a warning that there is no control group.
``response_rate``
    As for the other designs (:mod:`.response`): on the new program against the current one (for a
    before/after pilot: the pilot period against the baseline).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from qmsprint import metrics as metric_registry
from qmsprint.health.base import fmt_p, json_float, p_status, worst
from qmsprint.health.response import check_response_rates
from qmsprint.health.srm import SRM_ALERT_P, SRM_WARN_P
from qmsprint.health.tables import metric_sums
from qmsprint.results import HealthCheck
from qmsprint.spec import Spec
from qmsprint.stats import trend_slope
from qmsprint.words import counted

__all__ = ["check_rollout", "check_waves", "pre_trends"]

TRENDS_ALERT_P = 0.01
TRENDS_WARN_P = 0.05
VOLUME_ALERT_REL = 0.10
NO_CONTROL = (
    "No control group: a before/after comparison counts anything else that changed at the switch (season, "
    "launches, policies, staffing) as the program's effect."
)


def _unit(spec: Spec) -> str:
    return {"agent": "agent_id", "team": "team", "site": "site"}[spec.unit]


def _unit_weeks(cells: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """One row per unit x week: interactions, interactions on the new program."""
    col = _unit(spec)
    c = cells.assign(_on=np.where(cells["arm"].astype(str) == spec.arms.treatment, cells["n"], 0))
    g = c.groupby([c[col].astype(str), c["week"].astype(str)]).agg(n=("n", "sum"), on=("_on", "sum")).reset_index()
    return g.rename(columns={col: "unit"})


def _switches(uw: pd.DataFrame) -> pd.Series:
    """Switch week of each unit that switched (first week with interactions on the new program)."""
    return uw[uw["on"] > 0].groupby("unit")["week"].min()


def check_waves(cells: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Switching units per wave, never-switching units, comparison weeks, units going back."""
    uw = _unit_weeks(cells, spec)
    sw = _switches(uw)
    units = sorted(uw["unit"].unique())
    never = [u for u in units if u not in sw.index]
    waves = {w: sorted(sw[sw == w].index) for w in sorted(sw.unique())}
    merged = uw.merge(sw.rename("switch"), left_on="unit", right_index=True, how="left")
    back = sorted(merged.loc[(merged["week"] > merged["switch"]) & (merged["on"] < merged["n"]), "unit"].unique())
    weeks_on = set(uw.loc[uw["on"] > 0, "week"])
    weeks_off = set(uw.loc[uw["on"] < uw["n"], "week"])
    comparable = sorted(weeks_on & weeks_off)
    word = spec.unit
    if not waves:
        status, msg = "alert", f"No {word} switched to the new program: there is nothing to estimate."
    elif not comparable:
        status, msg = "alert", f"No week has a {word} on the new program next to one on the current program."
    else:
        status = "warn" if back else "ok"
        msg = (
            f"{counted(len(waves), 'wave')}: "
            + "; ".join(f"{counted(len(u), word)} from the week of {w}" for w, u in waves.items())
            + f"; {counted(len(never), word)} never switching; {counted(len(comparable), 'week')} "
            + ("compares" if len(comparable) == 1 else "compare")
            + " both programs"
        )
        if back:
            msg += f". {counted(len(back), word)} back on the current program after switching: {', '.join(back[:5])}"
        msg += "."
    data = {
        "waves": [{"week": w, "units": u} for w, u in waves.items()],
        "never": never,
        "switched_back": back,
        "comparison_weeks": comparable,
    }
    return HealthCheck("waves", status, msg, data)


def pre_trends(cells: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Per wave and metric: the drift of the gap to the not-yet / never-switching units before the switch."""
    col = _unit(spec)
    sw = _switches(_unit_weeks(cells, spec))
    rows: list[dict[str, Any]] = []
    statuses, worst_text, worst_key = [], "", (-1, -1.0)
    cells = cells.assign(_u=cells[col].astype(str), _w=cells["week"].astype(str))
    switch = cells["_u"].map(sw)
    all_weeks = sorted(cells["_w"].unique())
    for m in spec.metrics:
        info = metric_registry.get(m.name)
        sums = metric_sums(info, cells, spec)
        if sums is None:
            continue
        num, den = sums
        for wave in sorted(sw.unique()):
            before = cells["_w"] < wave
            members = switch == wave
            comparison = switch.isna() | (switch > cells["_w"])  # not yet (or never) on the new program that week
            a = pd.DataFrame({"w": cells["_w"], "num": num, "den": den})
            wv = a[before & members].groupby("w")[["num", "den"]].sum()
            cp = a[before & comparison & ~members].groupby("w")[["num", "den"]].sum()
            j = wv.add_suffix("_w").join(cp.add_suffix("_c"), how="inner")
            j = j[(j["den_w"] > 0) & (j["den_c"] > 0)]
            if len(j) < 3:
                continue
            gap = j["num_w"] / j["den_w"] - j["num_c"] / j["den_c"]
            x = np.array([all_weeks.index(w) for w in j.index], float)
            fit = trend_slope(x, gap.to_numpy())
            after = sum(1 for w in all_weeks if w >= wave)
            drift = abs(fit["slope"]) * (after + 1) / 2 if np.isfinite(fit["slope"]) else float("nan")
            rel = drift / m.threshold if np.isfinite(drift) else float("nan")
            st = "ok"
            if np.isfinite(fit["p"]):
                if fit["p"] < TRENDS_ALERT_P and rel >= 0.5:
                    st = "alert"
                elif fit["p"] < TRENDS_WARN_P:
                    st = "warn"
            statuses.append(st)
            unit = info.unit
            rows.append(
                {
                    "wave": wave,
                    "metric": m.name,
                    "weeks": len(j),
                    "slope": json_float(fit["slope"]),
                    "low": json_float(fit["low"]),
                    "high": json_float(fit["high"]),
                    "p": json_float(fit["p"]),
                    "unit": unit,
                    "status": st,
                }
            )
            text = (
                f"{info.label}, wave of {wave}: before its switch the gap to the units still on the current program "
                f"drifts by {fit['slope']:+.3g} {unit} per week ({fmt_p(fit['p'])}, {len(j)} weeks)"
            )
            key = (["ok", "warn", "alert"].index(st), rel if np.isfinite(rel) else 0.0)
            if key > worst_key:
                worst_key, worst_text = key, text
    if not rows:
        return HealthCheck("pre_trends", "ok", "Pre-trends not checked: fewer than 3 weeks before every switch.", {})
    status = worst(statuses)
    tail = ": that wave was already drifting from its comparison, so its effect may be biased."
    msg = worst_text + (tail if status != "ok" else f"; {counted(len(rows), 'wave x metric check')}, none drifting.")
    return HealthCheck("pre_trends", status, msg, {"rows": rows})


def _volume(cells: pd.DataFrame, spec: Spec) -> HealthCheck:
    """Interactions per unit-week after the switch against before, relative to the units not switching."""
    uw = _unit_weeks(cells, spec)
    sw = _switches(uw)
    uw = uw.merge(sw.rename("switch"), left_on="unit", right_index=True, how="left")
    ratios, refs = [], []
    for unit, g in uw.dropna(subset=["switch"]).groupby("unit"):
        s = g["switch"].iloc[0]
        pre, post = g[g["week"] < s], g[g["week"] >= s]
        if len(pre) and len(post) and pre["n"].mean() > 0:
            ratios.append(np.log(post["n"].mean() / pre["n"].mean()))
            others = uw[(uw["unit"] != unit) & (uw["switch"].isna() | (uw["switch"] > uw["week"]))]
            o_pre, o_post = others[others["week"] < s], others[others["week"] >= s]
            if len(o_pre) and len(o_post) and o_pre["n"].mean() > 0 and o_post["n"].mean() > 0:
                refs.append(np.log(o_post["n"].mean() / o_pre["n"].mean()))
    if len(ratios) < 2 or len(refs) < 2:
        return HealthCheck("srm_interactions", "ok", "Interaction volume at the switch not checked: too few units.", {})
    diff = float(np.mean(ratios) - np.mean(refs))
    p = float(sps.ttest_ind(ratios, refs, equal_var=False).pvalue)
    rel = float(np.expm1(diff))
    status = p_status(p, SRM_ALERT_P, SRM_WARN_P)
    if status == "alert" and abs(rel) < VOLUME_ALERT_REL:
        status = "warn"
    msg = (
        f"Units handle {abs(100 * rel):.1f}% {'more' if rel >= 0 else 'fewer'} interactions per week after their "
        f"switch than before, relative to units not switching ({fmt_p(p)})"
    )
    msg += ": interactions may be missing or duplicated on one program." if status != "ok" else "."
    return HealthCheck("srm_interactions", status, msg, {"relative_change": json_float(rel), "p": json_float(p)})


def check_rollout(spec: Spec, cells: pd.DataFrame) -> list[HealthCheck]:
    """Every health check of a roll-out design (cells with ``week``; see the module doc)."""
    arms = {spec.arms.treatment, spec.arms.control}
    cells = cells[cells["arm"].astype(str).isin(arms)]
    if spec.design == "prepost":
        both = cells.assign(period="pilot")  # the response check compares arms within the pilot period
        return [HealthCheck("no_control", "warn", NO_CONTROL, {}), check_response_rates(both, spec)]
    return [check_waves(cells, spec), pre_trends(cells, spec), _volume(cells, spec), check_response_rates(cells, spec)]
