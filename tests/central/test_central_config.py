"""Central's configuration: file, environment and command line, in that order; bad values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from central import config
from central.store.engine import normalize_url, redact
from protocol.errors import ConfigError


def test_defaults_keep_everything_in_the_data_directory(tmp_path: Path) -> None:
    loaded = config.load(env={"COMMUNE_CENTRAL_DATA": str(tmp_path / "d")})
    assert loaded.data_dir == tmp_path / "d" and loaded.database_url == ""
    assert loaded.effective_database_url == f"sqlite:///{(tmp_path / 'd' / 'central.db').resolve()}"
    assert loaded.retention == config.Retention(play_log_days=400, heartbeat_history_days=30,
                                                heartbeat_sample_s=900, command_days=90)


def test_file_then_environment_then_arguments(tmp_path: Path) -> None:
    file = tmp_path / "central.toml"
    file.write_text('data_dir = "data"\n[database]\nurl = "postgresql://central@/central?host=/run/postgresql"\n'
                    "pool_size = 4\n[retention]\nplay_log_days = 800\nheartbeat_sample_s = 300\n")
    loaded = config.load(file, env={})
    assert loaded.data_dir == tmp_path / "data" and loaded.pool_size == 4
    assert loaded.database_url.startswith("postgresql://") and loaded.retention.play_log_days == 800
    assert loaded.retention.heartbeat_sample_s == 300 and loaded.retention.command_days == 90
    env = {"COMMUNE_CENTRAL_CONFIG": str(file), "COMMUNE_CENTRAL_DATABASE_URL": "sqlite:////srv/c.db"}
    assert config.load(env=env).database_url == "sqlite:////srv/c.db"
    assert config.load(env=env, database_url="postgresql://x@/y").database_url == "postgresql://x@/y"
    assert config.load(env=env, data_dir="/srv/other").data_dir == Path("/srv/other")


@pytest.mark.parametrize(("text", "fragment"), [
    ("[retention]\nplay_log_days = 0\n", "play_log_days"),
    ("[retention]\nplay_log_days = true\n", "play_log_days"),
    ("[retention]\nkeep_forever = 1\n", "unknown keys"),
    ("[database]\nurl = 5\n", "url"),
    ("[database]\npool_size = -1\n", "pool_size"),
    ("colour = 'red'\n", "Unknown keys"),
    ("[database\n", "TOML"),
])
def test_bad_configuration_is_refused_in_both_languages(tmp_path: Path, text: str, fragment: str) -> None:
    file = tmp_path / "central.toml"
    file.write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load(file, env={})
    assert fragment in info.value.en and info.value.vi


def test_database_urls() -> None:
    assert normalize_url("postgresql://c@/central?host=/run/postgresql").startswith("postgresql+psycopg://")
    assert normalize_url("sqlite:////var/lib/c/central.db") == "sqlite:////var/lib/c/central.db"
    assert "s3cret" not in redact("postgresql://central:s3cret@db.example.vn/central")
    for bad in ("mysql://x@y/z", "sqlite://", "sqlite:///:memory:", "not a url", "postgresql+psycopg2://x@/y"):
        with pytest.raises(ConfigError) as info:
            normalize_url(bad)
        assert info.value.vi and "s3cret" not in info.value.en


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path / "nope.toml", env={})
    assert "nope.toml" in info.value.en


def test_speech_section(tmp_path: Path) -> None:
    assert config.load(env={}, data_dir=tmp_path).speech.engine == ""  # no rendering unless asked
    path = tmp_path / "central.toml"
    path.write_text('[speech]\nengine = "neural"\nvoice_pack = "vi-voice"\nrate = 140\nchime = false\n')
    speech = config.load(path, env={}).speech
    assert (speech.engine, speech.voice_pack, speech.rate, speech.chime) == ("neural", "vi-voice", 140, False)
    for text, fragment in (('engine = "festival"', "engine"), ('engine = "neural"', "voice_pack"),
                           ("rate = 10", "rate"), ('voice = "en"', "voice"), ("loud = 1", "unknown keys")):
        path.write_text(f"[speech]\n{text}\n")
        with pytest.raises(ConfigError) as refused:
            config.load(path, env={})
        assert fragment in refused.value.en and "[speech]" in refused.value.vi
