"""The app's entry: page set-up, share-mode login, sidebar (run picker, downloads) and navigation.

``app.py`` at the repository root calls :func:`main`; this file also runs as the entry itself
(``streamlit run qmsprint/ui/main.py``) when the package is installed without the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from qmsprint import api
from qmsprint.ui import auth, state

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
WORKBENCH_PAGES = [("new_run.py", "New run", ":material/upload_file:", "new-run")]


def _page(spec: tuple[str, str, str, str], default: bool = False) -> st.Page:
    file, title, icon, url = spec
    return st.Page(PAGES / file, title=title, icon=icon, url_path=url, default=default)


def pages(share: bool, diagnosis_only: bool = False) -> dict[str, list[st.Page]]:
    """The navigation sections for a mode (share mode: no upload, no run, no comparison of folders).

    A diagnosis folder (``qmsprint diagnose``, before any pilot) opens on the Diagnosis page, its
    only result page.
    """
    if diagnosis_only:
        nav = {"Diagnosis": [_page(EVIDENCE_PAGES[0], default=True)]}
        if not share:
            nav["Workbench"] = [_page(p) for p in WORKBENCH_PAGES if _exists(p)]
        return nav
    results = [_page(RESULT_PAGES[0], default=True)] + [_page(p) for p in RESULT_PAGES[1:] if _exists(p)]
    evidence = [_page(p) for p in EVIDENCE_PAGES if _exists(p) and not (share and p[0] == "compare.py")]
    nav = {"Results": results, "Evidence": evidence}
    if not share:
        nav["Workbench"] = [_page(p) for p in WORKBENCH_PAGES if _exists(p)]
    return {k: v for k, v in nav.items() if v}


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
        st.sidebar.caption(f"No runs in `{cfg.runs_dir}` yet.")
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
    if diagnosis_only and state.config().share:
        return  # a diagnosis folder keeps real agent ids (quadrant): never handed out in a share
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
    cfg = state.config()
    st.set_page_config(page_title="Pilot results · qmsprint", page_icon=":material/insights:", layout="wide")
    if cfg.share:
        client = state.client_name()
        what = "checklist diagnosis" if cfg.run_folder and api.is_diagnosis_folder(cfg.run_folder) else "pilot results"
        if not auth.gate(f"{client} {what}" if client else what.capitalize()):
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
        st.markdown(f"### {client}" if client else "### qmsprint")
        if cfg.share:
            st.caption(
                "Read-only share of one checklist diagnosis."
                if state.is_diagnosis(run)
                else "Read-only share of one pilot run."
            )
    if run is not None:
        _downloads(run)
    if cfg.share:
        auth.logout_button()
    st.navigation(pages(cfg.share, diagnosis_only=state.is_diagnosis(run))).run()


if __name__ == "__main__":
    main()
