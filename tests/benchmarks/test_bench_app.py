"""`make bench` builds TaskFlow with its production settings: they must start."""

import stat

from benchmarks import run
from benchmarks.load import server_env


def test_the_benchmark_app_starts_with_production_settings_and_one_field_key(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(run, "BENCH_DIR", tmp_path / "bench")
    app = run.bench_app(f"sqlite:///{tmp_path / 'city.db'}")
    assert app.config["FIELD_KEY_REQUIRED"] is True and not app.config["TESTING"]
    key = app.config["FIELD_KEY"]
    assert len(key) == 32 and int(key, 16) >= 0
    key_file = tmp_path / "bench" / "field_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The servers and the commands of the benchmark open the same city with the same key.
    assert run.field_key() == key
    assert server_env("sqlite:///x.db", tmp_path)["TASKFLOW_FIELD_KEY"] == key


def test_a_page_that_did_not_answer_200_meets_no_target():
    page = {"name": "cockpit", "errors": 5000, "ratio_to_bare": 0.9, "p95_ms": 20.0}
    verdict = run.verdicts([page], [], 1.0)
    assert verdict["cockpit p95 < 150 ms"] is False
    assert verdict["cockpit ≥ 25 % of the bare route's throughput"] is False
    assert verdict["every page answered 200 under load"] is False
    served = run.verdicts([{**page, "errors": 0}], [], 1.0)
    assert all(served.values())


def test_the_benchmark_servers_sign_in_with_a_password_only(tmp_path):
    # The driver has no authenticator: with a second factor the office pages would only redirect.
    assert server_env("sqlite:///x.db", tmp_path)["TASKFLOW_TOTP_REQUIRED_ROLES"] == ""
