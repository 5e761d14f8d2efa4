"""The app's entry: page set-up, share-mode login, sidebar (run picker, downloads) and navigation.

``app.py`` at the repository root calls :func:`main`; this file also runs as the entry itself
(``streamlit run qmsprint/ui/main.py``) when the package is installed without the repository.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from qmsprint import api
from qmsprint.present.format import md
from qmsprint.progress import hide_library_notices
from qmsprint.ui import auth, jobs, reveal, state
from qmsprint.ui.config import CLOSED

if TYPE_CHECKING:
    from qmsprint.api import DiagnosisFolder, RunBundle

PAGES = Path(__file__).resolve().parent / "pages"

# (file, title, icon, url path); the first is the default page.
RESULT_PAGES = [
    ("recommendation.py", "Recommendation", ":material/flag:", "recommendation"),
    ("metrics.py", "Metrics", ":material/monitoring:", "metrics"),
    ("segments.py", "Segments", ":material/segment:", "segments"),
    ("rollout.py", "Roll-out & event time", ":material/timeline:", "rollout"),
]
EVIDENCE_PAGES = [
    ("diagnosis.py", "Diagnosis", ":material/troubleshoot:", "diagnosis"),
    ("design.py", "Design", ":material/straighten:", "design"),
    ("quality.py", "Data quality & trust", ":material/verified:", "quality"),
    ("compare.py", "Compare pilots", ":material/compare_arrows:", "compare"),
    ("monitor.py", "Monitoring", ":material/notifications:", "monitor"),
]
WORKBENCH_PAGES = [
    ("setup.py", "Set up a pilot", ":material/design_services:", "setup"),
    ("new_run.py", "New run", ":material/upload_file:", "new-run"),
]
APP_TITLE = "qmsprint"
BRAND = "#1f6f8b"  # the theme's primary colour (.streamlit/config.toml)


@functools.cache
def app_icon() -> Any:
    """The app's own tab icon, drawn here (served by the app itself; no icon font fetched from elsewhere)."""
    from PIL import Image, ImageDraw

    size = 64
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=14, fill=BRAND)
    for i, height in enumerate((18, 30, 42)):  # three rising bars: a pilot's result
        x = 12 + i * 15
        draw.rounded_rectangle((x, 52 - height, x + 10, 52), radius=3, fill="white")
    return img


def _page(spec: tuple[str, str, str, str]) -> st.Page:
    file, title, icon, url = spec
    return st.Page(PAGES / file, title=title, icon=icon, url_path=url)


ROLLOUT_PAGE = "rollout.py"  # shown for roll-out runs (waves, before/after) only


def _visible(share: bool, diagnosis_only: bool, no_run: bool, rollout: bool) -> dict[str, list[st.Page]]:
    if no_run and not share:
        nav = {"Workbench": [_page(p) for p in WORKBENCH_PAGES if _exists(p)]}
        nav["Results"] = [_page(p) for p in RESULT_PAGES if _exists(p)]
        nav["Evidence"] = [_page(p) for p in EVIDENCE_PAGES if _exists(p)]
        return nav
    if diagnosis_only:
        nav = {"Diagnosis": [_page(EVIDENCE_PAGES[0])]}
        if not share:
            nav["Workbench"] = [_page(p) for p in WORKBENCH_PAGES if _exists(p)]
        return nav
    results = [_page(p) for p in RESULT_PAGES if _exists(p) and (rollout or p[0] != ROLLOUT_PAGE)]
    evidence = [_page(p) for p in EVIDENCE_PAGES if _exists(p) and not (share and p[0] == "compare.py")]
    nav = {"Results": results, "Evidence": evidence}
    if not share:
        nav["Workbench"] = [_page(p) for p in WORKBENCH_PAGES if _exists(p)]
    return {k: v for k, v in nav.items() if v}


def _redirect(target: st.Page) -> st.Page:
    """The app's root URL: opens ``target`` under its own URL (so every page, the first too, has one)."""

    def start() -> None:
        st.switch_page(target)

    return st.Page(start, title=target.title, icon=target.icon, url_path="start", default=True, visibility="hidden")


def _elsewhere(spec: tuple[str, str, str, str], reason: str, back: st.Page) -> st.Page:
    """A page of another mode opened by its link: say why it is not here instead of "Page not found"."""
    _, title, icon, url = spec

    def explain() -> None:
        st.title(title)
        st.info(reason, icon=":material/info:")
        st.page_link(back, label=f"Go to {back.title}", icon=back.icon)

    return st.Page(explain, title=title, icon=icon, url_path=url, visibility="hidden")


def pages(
    share: bool, diagnosis_only: bool = False, no_run: bool = False, rollout: bool = True
) -> dict[str, list[st.Page]]:
    """The navigation sections for a mode (share mode: no upload, no run, no comparison of folders).

    Every page has its own URL (``/recommendation``, ``/setup``, ...) and the root opens the first
    one, so links into the app work; a link to a page this mode does not have says why. The
    roll-out page is listed only for a roll-out run (``rollout``: waves or before/after). A
    diagnosis folder (``qmsprint diagnose``, before any pilot) opens on the Diagnosis page, its
    only result page. A workbench with no run yet (``no_run``) opens on "Set up a pilot"; its
    result pages say how to get a run.
    """
    nav = _visible(share, diagnosis_only, no_run, rollout)
    first = next(iter(nav.values()))[0]
    shown = {p.url_path for section in nav.values() for p in section}
    if diagnosis_only:
        reason = "The folder open now is a checklist diagnosis: it has no pilot results." + (
            "" if share else " Choose a run in the sidebar to see them."
        )
    elif not rollout and share:
        reason = (
            "This page is not part of the shared results (roll-out pages are for pilots run in waves or before/after)."
        )
    elif share:
        reason = "This page is not part of the shared results."
    elif not rollout:
        reason = "This run is not a roll-out: effects by wave and by weeks since the switch are for pilots in waves."
    else:
        reason = "This page is not available here."
    hidden = [_redirect(first)] + [
        _elsewhere(p, reason, first) for p in RESULT_PAGES + EVIDENCE_PAGES + WORKBENCH_PAGES if p[3] not in shown
    ]
    last = list(nav)[-1]
    return {**nav, last: nav[last] + hidden}


def _exists(spec: tuple[str, str, str, str]) -> bool:
    return (PAGES / spec[0]).is_file()


def _run_picker() -> None:
    cfg = state.config()
    pending = st.session_state.pop(state.PENDING_KEY, None)  # a run just made on the New run page
    if pending:
        st.session_state[state.RUN_KEY] = pending
    runs = state.list_run_paths(str(cfg.runs_dir), diagnoses=True)
    current = state.selected_path()
    options = list(runs)
    if current is not None and str(current) not in options:
        options.insert(0, str(current))
    if not options:
        st.sidebar.caption(f"No runs in `{state.shown_path(cfg.runs_dir)}` yet.")
        return
    if st.session_state.get(state.RUN_KEY) not in options:
        st.session_state[state.RUN_KEY] = str(current) if current is not None else options[0]
    st.sidebar.selectbox(
        "Run",
        options,
        format_func=lambda p: Path(p).name,
        key=state.RUN_KEY,
        help=f"Run and diagnosis folders in {cfg.runs_dir}, newest first.",
    )


def _downloads(run: RunBundle | DiagnosisFolder) -> None:
    path = str(run.path.resolve())
    stamp = state.stamp(path)
    name = Path(path).name
    diagnosis_only = state.is_diagnosis(run)
    share = state.config().share
    if diagnosis_only and share:
        return  # a share hands out exports of a run (report, effects), never a folder
    st.sidebar.subheader("Downloads")
    if not diagnosis_only:
        st.sidebar.download_button(
            "HTML report",
            data=lambda: state.report_html(path, stamp) or b"",
            file_name=f"{name}-report.html",
            mime="text/html",
            icon=":material/description:",
            on_click="ignore",
            width="stretch",
        )
        st.sidebar.download_button(
            "Effects (CSV)",
            data=api.effects_csv(run),  # formulas neutralised, no paths or connection strings
            file_name=f"{name}-effects.csv",
            mime="text/csv",
            icon=":material/table:",
            on_click="ignore",
            width="stretch",
        )
    if share:
        return  # the folder holds the spec as written, per-agent posteriors and provenance: workbench only
    st.sidebar.download_button(
        "Diagnosis (zip)" if diagnosis_only else "Run bundle (zip)",
        data=lambda: state.bundle_zip(path, stamp),
        file_name=f"{name}.zip",
        mime="application/zip",
        icon=":material/folder_zip:",
        on_click="ignore",
        width="stretch",
    )


def main() -> None:
    """Render the app: login (share mode), sidebar, then the selected page."""
    hide_library_notices()  # the pilots the app runs print to the server's console
    cfg = state.config()
    st.set_page_config(page_title=APP_TITLE, page_icon=app_icon(), layout="wide")
    if cfg.mode == CLOSED:  # not started by `qmsprint app` (or an unknown mode): show nothing of any run
        st.title("qmsprint")
        st.info("Start the app with `qmsprint app` (the workbench, on this computer only) or "
                "`qmsprint app RUN --share` (one run, behind a login).", icon=":material/lock:")  # fmt: skip
        st.stop()
    if cfg.share:
        client = state.client_name()
        diagnosis = bool(cfg.run_folder and api.is_diagnosis_folder(cfg.run_folder))
        what = "checklist diagnosis" if diagnosis else "pilot results"
        if not auth.gate(f"{client} {what}" if client else what.capitalize()):
            # the link's page is known (no "Page not found") and shown once the visitor is signed in
            st.navigation(pages(True, diagnosis_only=diagnosis), position="hidden")
            st.stop()
    head = st.sidebar.container()
    if not cfg.share:
        _run_picker()
    path = state.selected_path()
    run = None
    if path is not None:
        try:
            run = state.load(path)
        except Exception:  # noqa: BLE001 - the page shows the error itself
            run = None
    client = state.client_name(run)
    with head:
        st.markdown(f"### {md(client)}" if client else "### qmsprint")
        if cfg.share:
            st.caption(
                "Read-only share of one checklist diagnosis."
                if state.is_diagnosis(run)
                else "Read-only share of one pilot run."
            )
    if run is not None:
        _downloads(run)
        reveal.reveal_panel(run)  # workbench only
    if cfg.share:
        auth.logout_button()
    rollout = run is None or state.is_diagnosis(run) or run.spec.design in ("waves", "prepost")
    page = st.navigation(pages(cfg.share, diagnosis_only=state.is_diagnosis(run), no_run=path is None, rollout=rollout))
    if not cfg.share:
        jobs.sidebar_status(page.url_path)
    st.set_page_config(page_title=f"{page.title} · {client or APP_TITLE}", page_icon=app_icon(), layout="wide")
    page.run()


if __name__ == "__main__":
    main()
