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
