"""The Streamlit app on a real run bundle (AppTest), its formatting, and the share-mode safety of serve."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from qmsprint import access
from qmsprint.present import format as fmt
from qmsprint.store import load_run, save_diagnosis
from qmsprint.ui import widgets
from qmsprint.ui.config import CLOSED, ENV_MODE, ENV_RUN, ENV_RUNS_DIR, AppConfig, from_env

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["recommendation", "metrics", "segments", "diagnosis", "design", "quality", "compare", "setup", "new_run"]
RESULT_PAGES = PAGES[:-2]
TIMEOUT = 120
STRONG = "northwind reads the pilot results"


def _texts(at: AppTest) -> str:
    """Every text the page shows (markdown, captions, alerts, metrics, titles), one string, as the reader sees it."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "success", "warning", "error", "info", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return _shown("\n".join(parts))


def _shown(markdown: str) -> str:
    """Markdown source as rendered text: the escapes of ``fmt.md`` (backslashes, invisible joiners) removed."""
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!|<>~$:=&])", r"\1", markdown).replace("\u2060", "")


def _app(monkeypatch, run: Path, mode: str = "workbench") -> AppTest:
    monkeypatch.setenv(ENV_MODE, mode)
    monkeypatch.setenv(ENV_RUN, str(run))
    monkeypatch.setenv(ENV_RUNS_DIR, str(run.parent))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)


def _goto(at: AppTest, page: str) -> AppTest:
    return at.switch_page(f"qmsprint/ui/pages/{page}.py").run()


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def run_obj(small_run):
    return load_run(small_run)


# ------------------------------------------------------------------------------ configuration


def test_config_round_trips_through_the_environment(tmp_path):
    cfg = AppConfig(mode="share", run_folder=tmp_path / "r", runs_dir=tmp_path)
    assert from_env(cfg.to_env()) == cfg
    assert from_env({}).mode == CLOSED  # a bare `streamlit run app.py` opens nothing
    assert from_env({ENV_MODE: "root"}).mode == CLOSED  # unknown modes fail closed
    assert AppConfig().mode == "workbench"


# ------------------------------------------------------------------------------ workbench pages


def test_recommendation_page_tells_the_story(monkeypatch, small_run, run_obj):
    at = _app(monkeypatch, small_run).run()
    _no_exception(at)
    text = _texts(at)
    rec = run_obj.recommendation
    assert fmt.action_text(rec.action)[0] in text
    assert rec.headline in text
    for r in run_obj.results:
        assert fmt.metric_label(r.metric) in text
        verdict = rec.verdicts[r.metric].verdict
        assert fmt.verdict_label(verdict, capital=True) in text, f"verdict of {r.metric} not shown"
        assert fmt.num(r.headline.mean, r.headline.unit, signed=True) in text
    assert "probability that" in text and "by at least" in text


@pytest.mark.parametrize("page", RESULT_PAGES)
def test_every_page_renders_on_the_run(monkeypatch, small_run, page):
    at = _app(monkeypatch, small_run).run()
    _goto(at, page)
    _no_exception(at)
    assert at.title, f"{page} shows no title"


def test_the_roll_out_page_is_listed_for_roll_out_runs_only(monkeypatch, small_run):
    """An A/B run has no roll-out page (a waves run opens it: tests/test_waves.py)."""
    at = _app(monkeypatch, small_run).run()
    with pytest.raises(ValueError, match="navigation page"):
        _goto(at, "rollout")


def test_metric_pages_switch_metric_without_error(monkeypatch, small_run, run_obj):
    at = _app(monkeypatch, small_run).run()
    _goto(at, "metrics")
    for r in run_obj.results:
        at.selectbox(key="metrics_metric").select(r.metric).run()
        _no_exception(at)
        assert any(fmt.metric_label(r.metric) in str(m.value) for m in at.markdown)


def test_design_page_shows_the_runs_sizing_and_balance(monkeypatch, small_run, run_obj):
    at = _app(monkeypatch, small_run).run()
    _goto(at, "design")
    _no_exception(at)
    text = _texts(at)
    assert run_obj.design["assurance"]["summary"].splitlines()[0] in text
    assert "This run has no assurance grid" not in text and "This run has no balance table" not in text
    assert len(at.dataframe) == 2  # the assurance grid and the balance table


def test_missing_parts_are_said_plainly(monkeypatch, small_run, run_obj):
    at = _app(monkeypatch, small_run).run()
    _goto(at, "diagnosis")
    _no_exception(at)
    if run_obj.diagnosis is None:
        assert "This run has no diagnosis" in _texts(at)
    else:
        assert at.tabs or "no charts" in _texts(at)


def test_a_missing_run_folder_is_an_error_message_not_a_crash(monkeypatch, tmp_path):
    at = _app(monkeypatch, tmp_path / "gone").run()
    _no_exception(at)
    assert "cannot be opened" in _texts(at)


def test_bundle_download_is_the_whole_run(small_run):
    from qmsprint.ui import state

    data = state.bundle_zip(str(small_run), state.stamp(small_run))
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert f"{small_run.name}/manifest.json" in names
    assert f"{small_run.name}/recommendation.json" in names


# ------------------------------------------------------------------------------ upload path


def _upload_and_validate(at: AppTest, spec: tuple, data: tuple | None = None) -> AppTest:
    _goto(at, "new_run")
    at.file_uploader(key="upload_spec").set_value(spec)
    if data is not None:
        at.file_uploader(key="upload_data").set_value(data)
    at.run()
    next(b for b in at.button if b.label == "Validate").click().run()
    return at


def test_a_bad_experiment_file_shows_the_problems_as_a_table(monkeypatch, small_run):
    at = _app(monkeypatch, small_run).run()
    bad = b'name = "x"\ndesign = "abc"\n[arms]\ncontrol = "a"\ntreatment = "a"\n'
    _upload_and_validate(at, ("bad.toml", bad, "application/toml"))
    _no_exception(at)
    assert any("cannot be used" in e.value for e in at.error)
    table = at.dataframe[0].value
    assert list(table.columns)[:2] == ["where", "problem"]
    where = set(table["where"])
    assert {"design", "arms.treatment", "metrics"} <= where, where


def test_a_bad_data_file_shows_the_problems_as_a_table(monkeypatch, small_run):
    at = _app(monkeypatch, small_run).run()
    spec = (ROOT / "experiments" / "demo_ab.toml").read_bytes()
    csv = b"interaction_id,when,agent\n1,yesterday,a\n"
    _upload_and_validate(at, ("demo_ab.toml", spec, "application/toml"), ("pilot.csv", csv, "text/csv"))
    _no_exception(at)
    assert any("data cannot be used" in e.value for e in at.error)
    assert len(at.dataframe[0].value) >= 1


def test_an_upload_with_the_wrong_type_is_refused_on_the_server(tmp_path):
    # Streamlit also checks extensions; the page checks again before writing anything.
    from qmsprint.errors import SpecError
    from qmsprint.ui.pages.new_run import _prepare_spec

    class Upload:
        def __init__(self, name: str, data: bytes) -> None:
            self.name, self.data = name, data

        def getvalue(self) -> bytes:
            return self.data

    with pytest.raises(SpecError) as err:
        _prepare_spec(Upload("spec.exe", b"MZ"), Upload("data.xlsx", b"PK"), tmp_path)
    assert [p.where for p in err.value.problems] == ["experiment file", "data file"]
    assert list(tmp_path.iterdir()) == []


def test_a_good_upload_validates_and_starts_a_background_run(monkeypatch, small_run, small_spec):
    from qmsprint.api import Job

    calls = []

    def fake_start_run(runs_dir, **request):  # the worker process is tested in test_jobs.py
        calls.append((runs_dir, request))
        return Job(id="j1", folder=Path(runs_dir) / ".qmsprint-jobs" / "j1", name="upload", state="starting")

    monkeypatch.setattr("qmsprint.api.start_run", fake_start_run)
    p = small_spec.periods
    toml = (
        f'name = "upload"\ndesign = "ab"\n[arms]\ncontrol = "checklist"\ntreatment = "behavior"\n'
        f'[data]\nsource = "elsewhere.parquet"\n[periods]\n'
        f"baseline = {{ start = {p.baseline.start}, end = {p.baseline.end} }}\n"
        f"pilot = {{ start = {p.pilot.start}, end = {p.pilot.end} }}\n"
        f'[[metrics]]\nname = "csat"\n'
    ).encode()
    data = Path(small_spec.data.source).read_bytes()
    at = _app(monkeypatch, small_run).run()
    _goto(at, "new_run")
    at.file_uploader(key="upload_spec").set_value(("pilot.toml", toml, "application/toml"))
    at.file_uploader(key="upload_data").set_value(("pilot.parquet", data, "application/octet-stream"))
    at.run()
    next(b for b in at.button if b.label == "Run the analysis").click().run()
    _no_exception(at)
    ((runs_dir, request),) = calls
    assert Path(runs_dir) == small_run.parent and request["name"] == "upload"
    assert request["upload"] == ("pilot.toml", toml) and request["data"] == ("pilot.parquet", data)


def _spec_toml(small_spec, source: str) -> bytes:
    """An experiment file for the small pilot reading ``source``."""
    p = small_spec.periods
    return (
        f'name = "upload"\ndesign = "ab"\n[arms]\ncontrol = "checklist"\ntreatment = "behavior"\n'
        f"[data]\nsource = {source!r}\n[periods]\n"
        f"baseline = {{ start = {p.baseline.start}, end = {p.baseline.end} }}\n"
        f"pilot = {{ start = {p.pilot.start}, end = {p.pilot.end} }}\n"
        f'[[metrics]]\nname = "csat"\n[[metrics]]\nname = "repeat_contact"\n'
    ).encode()


def test_the_apps_validate_and_the_cli_validate_report_the_same(monkeypatch, small_run, small_spec, tmp_path):
    """One shared api.validate: the Validate button shows the data's summary, warnings and health checks
    that `qmsprint validate` prints, and the same problems when the data is bad."""
    from qmsprint import api
    from qmsprint.cli import app as cli
    from qmsprint.present.format import md

    good = _spec_toml(small_spec, str(small_spec.data.source))
    (tmp_path / "good.toml").write_bytes(good)
    expected = api.validate(tmp_path / "good.toml")
    assert expected.ok and expected.health
    printed = CliRunner().invoke(cli, ["validate", str(tmp_path / "good.toml"), "--quiet"])
    assert printed.exit_code == 0, printed.output
    at = _app(monkeypatch, small_run).run()
    _upload_and_validate(at, ("good.toml", good, "application/toml"))
    _no_exception(at)
    shown = _texts(at)
    assert expected.summary in shown and expected.summary in printed.output
    for check in expected.health:
        assert f"{check.status}: {check.message}" in printed.output
        assert f"{widgets.status_badge(check.status)} {_shown(md(check.message))}" in shown
    shown_warnings = list(at.dataframe[0].value["problem"]) if expected.warnings else []
    assert shown_warnings == [w.message for w in expected.warnings]
    assert all(f"warning: {w}" in printed.output for w in expected.warnings)

    (tmp_path / "bad.csv").write_text("interaction_id,when,agent\n1,yesterday,a\n")
    bad = _spec_toml(small_spec, str(tmp_path / "bad.csv"))
    (tmp_path / "bad.toml").write_bytes(bad)
    expected = api.validate(tmp_path / "bad.toml")
    assert expected.data_problems and not expected.spec_problems
    printed = CliRunner().invoke(cli, ["validate", str(tmp_path / "bad.toml"), "--quiet"])
    assert printed.exit_code == 3
    at = _app(monkeypatch, small_run).run()
    _upload_and_validate(at, ("bad.toml", bad, "application/toml"))
    _no_exception(at)
    assert any("data cannot be used" in e.value for e in at.error)
    table = at.dataframe[0].value
    assert list(table["problem"]) == [p.message for p in expected.data_problems]
    assert all(str(p) in printed.output for p in expected.data_problems)


# ------------------------------------------------------------------------------ share mode


def _share(monkeypatch, run: Path, **secrets) -> AppTest:
    monkeypatch.setattr("qmsprint.ui.auth.THROTTLE", access.Throttle())  # no failures left from other tests
    at = _app(monkeypatch, run, mode="share")
    for k, v in secrets.items():
        at.secrets[k] = v
    return at.run()


def _log_in(at: AppTest, password: str) -> None:
    at.text_input(key="qmsprint_password").input(password)  # a form: value and submit go together
    next(b for b in at.button if b.label == "Log in").click().run()


def test_share_mode_requires_the_password(monkeypatch, small_run, run_obj):
    at = _share(monkeypatch, small_run, password="correct horse battery")
    _no_exception(at)
    assert run_obj.recommendation.headline not in _texts(at)
    assert not at.selectbox and not at.file_uploader
    _log_in(at, "wrong")
    assert any("not right" in e.value for e in at.error)
    assert run_obj.recommendation.headline not in _texts(at)
    _log_in(at, "correct horse battery")
    _no_exception(at)
    assert run_obj.recommendation.headline in _texts(at)


def test_share_mode_hides_upload_run_and_browsing(monkeypatch, small_run):
    at = _share(monkeypatch, small_run, password=STRONG)
    _log_in(at, STRONG)
    for page in ["recommendation", "metrics", "segments", "diagnosis", "design", "quality"]:
        _goto(at, page)
        _no_exception(at)
        assert not at.file_uploader, page
        assert not [s for s in at.sidebar.selectbox if s.label == "Run"], page
        assert not [b for b in at.button if b.label == "Run the analysis"], page
    for page in ("new_run", "compare"):
        with pytest.raises(ValueError, match="navigation page"):
            _goto(at, page)


def test_share_mode_with_oidc_shows_the_login_button(monkeypatch, small_run, run_obj):
    auth = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "7f3a" * 16, "client_id": "id"}
    at = _share(monkeypatch, small_run, auth=auth, share={"allowed_domains": ["client.example"]})
    _no_exception(at)
    assert [b.label for b in at.button] == ["Log in"]
    assert run_obj.recommendation.headline not in _texts(at)


def test_share_mode_without_a_login_shows_nothing(monkeypatch, small_run, run_obj):
    at = _share(monkeypatch, small_run)
    _no_exception(at)
    assert run_obj.recommendation.headline not in _texts(at)
    assert any("no safe login configured" in e.value for e in at.error)


# ------------------------------------------------------------------------------ serve


@pytest.fixture
def no_streamlit(monkeypatch):
    """Record the command serve would start instead of starting it."""
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr("qmsprint.serve.launch", lambda cmd, env: calls.append((cmd, env)) or 0)
    return calls


def test_serve_refuses_share_mode_without_a_login(tmp_path, small_run, no_streamlit):
    from qmsprint.serve import ShareConfigError, serve

    empty = tmp_path / "secrets.toml"
    empty.write_text('[share]\nclient_name = "Northwind"\n')
    with pytest.raises(ShareConfigError, match="needs a login"):
        serve(run_folder=small_run, share=True, secrets=empty)
    with pytest.raises(ShareConfigError, match="not found"):
        serve(run_folder=small_run, share=True, secrets=tmp_path / "missing.toml")
    assert no_streamlit == []


def test_cli_share_without_secrets_exits_non_zero(tmp_path, small_run, monkeypatch, no_streamlit):
    from qmsprint.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["app", str(small_run), "--share", "--headless"])
    assert result.exit_code != 0
    assert "needs a login" in result.output
    assert no_streamlit == []


def test_serve_starts_share_mode_with_a_password(tmp_path, small_run, no_streamlit):
    from qmsprint.serve import serve

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'password = "{STRONG}"\n[share]\nprimary_color = "#123456"\n')
    assert serve(run_folder=small_run, share=True, secrets=secrets, port=8599) == 0
    ((cmd, env),) = no_streamlit
    assert cmd[1:4] == ["-m", "streamlit", "run"] and Path(cmd[4]).name == "app.py"
    assert cmd[cmd.index("--server.port") + 1] == "8599"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert cmd[cmd.index("--theme.primaryColor") + 1] == "#123456"
    assert cmd[cmd.index("--server.maxUploadSize") + 1] == "1"
    assert env[ENV_MODE] == "share" and Path(env[ENV_RUN]) == small_run.resolve()


def test_serve_workbench_opens_the_newest_run_locally(small_run, no_streamlit, monkeypatch):
    from qmsprint.serve import newest_run, serve

    monkeypatch.setenv("CI", "true")
    serve(runs_dir=small_run.parent, port=8598)
    ((cmd, env),) = no_streamlit
    assert env[ENV_MODE] == "workbench" and ENV_RUN not in env
    assert cmd[cmd.index("--server.headless") + 1] == "true"  # never a browser tab or a prompt
    assert cmd[cmd.index("--server.address") + 1] == "localhost"
    assert newest_run(small_run.parent) == small_run


def test_login_methods_are_recognised():
    from qmsprint.access import login_method

    oidc = {"auth": {"redirect_uri": "u", "cookie_secret": "s", "google": {"client_id": "c"}}}
    assert login_method(oidc) == "oidc"
    assert login_method({"auth": {"redirect_uri": "u"}}) is None  # incomplete [auth]
    assert login_method({"password": "p"}) == "password"
    assert login_method({"share": {"password": "p"}}) == "password"
    assert login_method({"password": ""}) is None


# ------------------------------------------------------------------------------ diagnosis folders


def test_a_diagnosis_folder_opens_on_the_diagnosis_page(monkeypatch, diagnosis_folder):
    at = _app(monkeypatch, diagnosis_folder).run()
    _no_exception(at)
    assert at.title[0].value.startswith("Diagnosis")
    text = _texts(at)
    assert "Northwind Telecom" in text and "2,000 interactions from 20 agents" in text
    assert [t.label for t in at.tabs] == ["Checklist vs behavior score", "Checklist items", "100 for whom?",
                                          "Agents or the system?"]  # fmt: skip
    assert "the checklist QA score explains 3%" in text  # the summary for a slide
    assert [b.label for b in at.sidebar.get("download_button")] == ["Diagnosis (zip)"]
    for page in ("recommendation", "metrics", "compare"):  # no pilot results in a diagnosis
        with pytest.raises(ValueError, match="navigation page"):
            _goto(at, page)


def test_the_workbench_lists_diagnoses_with_runs_and_opens_the_newest(
    monkeypatch, small_run, tmp_path, diagnosis_maker
):
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(small_run, runs / small_run.name)
    made = diagnosis_maker()
    save_diagnosis(made.to_dict(), made.tables(), runs / "baseline-diagnosis")  # made now: newer than the run
    monkeypatch.setenv(ENV_MODE, "workbench")
    monkeypatch.delenv(ENV_RUN, raising=False)
    monkeypatch.setenv(ENV_RUNS_DIR, str(runs))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    _no_exception(at)
    picker = next(s for s in at.sidebar.selectbox if s.label == "Run")
    assert [Path(o).name for o in picker.options] == ["baseline-diagnosis", small_run.name]
    assert at.title[0].value.startswith("Diagnosis")
    picker.select(str(runs / small_run.name)).run()  # a run brings its result pages back
    _no_exception(at)
    _goto(at, "recommendation")
    _no_exception(at)
    assert load_run(runs / small_run.name).recommendation.headline in _texts(at)


def test_share_mode_serves_a_diagnosis_without_agent_ids(monkeypatch, diagnosis_folder):
    at = _share(monkeypatch, diagnosis_folder, password=STRONG)
    assert "the checklist QA score explains" not in _texts(at) and "Checklist diagnosis" in _texts(at)
    _log_in(at, STRONG)
    _no_exception(at)
    assert at.title[0].value.startswith("Diagnosis") and "one checklist diagnosis" in _texts(at)
    for frame in at.dataframe:
        assert "agent_id" not in frame.value.columns
    assert not at.sidebar.get("download_button")  # a share hands out exports of runs, never folders
    assert not at.file_uploader and not [s for s in at.sidebar.selectbox if s.label == "Run"]


def test_serve_shares_a_diagnosis_folder_and_refuses_a_damaged_one(tmp_path, diagnosis_folder, no_streamlit):
    from qmsprint.errors import BundleError
    from qmsprint.serve import serve

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'password = "{STRONG}"\n')
    assert serve(run_folder=diagnosis_folder, share=True, secrets=secrets) == 0
    (diagnosis_folder / "diagnosis.json").write_text("{not json")
    with pytest.raises(BundleError, match="damaged: diagnosis.json"):
        serve(run_folder=diagnosis_folder, share=True, secrets=secrets)
    assert len(no_streamlit) == 1
