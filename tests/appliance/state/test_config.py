"""Configuration loading and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.state import config
from protocol.errors import ConfigError
from tests.support.paths import REPO

SHIPPED = REPO / "config" / "appliance.toml"


def test_shipped_file_loads_with_documented_defaults() -> None:
    cfg = config.load(SHIPPED, env={})
    assert cfg.device.timezone == "Asia/Ho_Chi_Minh"
    assert cfg.language == "vi"
    assert [z.name for z in cfg.zones] == ["trung-tam", "thon-dong"]
    assert cfg.schedule.grace_minutes == 10
    # The shipped file spells out every default: loading it equals loading nothing.
    assert config.from_mapping({}, env={}).sync == cfg.sync
    assert config.from_mapping({}, env={}).power == cfg.power
    assert cfg.power.mains_pin == -1 and cfg.power.battery_policy == "keep_all"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"device": {"idd": "x"}}, "device.idd"),
        ({"sync": {"interval_s": "often"}}, "sync.interval_s"),
        ({"sync": {"interval_s": 1}}, "sync.interval_s"),
        ({"device": {"timezone": "Mars/Base"}}, "device.timezone"),
        ({"device": {"id": "../../etc"}}, "device.id"),
        ({"central": {"url": "ftp://x"}}, "central.url"),
        ({"zones": [{"name": "a", "relay_pin": 99}]}, "zones[0].relay_pin"),
        ({"zones": [{"name": "a", "relay_pin": 5}, {"name": "a", "relay_pin": 6}]}, "zones"),
        ({"tts": {"rate": True}}, "tts.rate"),
        ({"schedule": {"default_windows": ["25:00-06:00"]}}, "schedule.default_windows"),
        ({"language": "fr"}, "language"),
        ({"power": {"mains_pin": 60}}, "power.mains_pin"),
        ({"power": {"mains_present_level": "up"}}, "power.mains_present_level"),
        ({"power": {"throttled_source": "relative/path"}}, "power.throttled_source"),
        ({"power": {"poll_s": 0}}, "power.poll_s"),
        ({"power": {"battery_policy": "nothing"}}, "power.battery_policy"),
        ({"power": {"mains_pin": 17}}, "power.mains_pin"),   # the first zone's relay pin
    ],
)
def test_invalid_values_name_file_key_and_expectation(data: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.from_mapping(data, "/etc/commune-radio/appliance.toml", env={})
    assert "/etc/commune-radio/appliance.toml" in err.value.en
    assert fragment in err.value.en and fragment in err.value.vi


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "a.toml"
    bad.write_text("[device\nid=", encoding="utf-8")
    with pytest.raises(ConfigError, match="TOML"):
        config.load(bad, env={})
    with pytest.raises(ConfigError) as err:
        config.load(tmp_path / "none.toml", env={})
    assert "none.toml" in err.value.en


def test_environment_overrides_secrets_and_display_masks_them() -> None:
    cfg = config.from_mapping({"central": {"token": "file-token"}}, env={"COMMUNE_RADIO_DEVICE_TOKEN": "env-secret"})
    assert cfg.central.token == "env-secret"
    shown = config.as_display_dict(cfg)
    assert "env-secret" not in str(shown)
    assert shown["central"]["token"].startswith("****")


def test_check_config_cli_masks_secrets(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.cli import main

    monkeypatch.setenv("COMMUNE_RADIO_DEVICE_TOKEN", "very-secret-token")
    assert main(["--config", str(SHIPPED), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "very-secret-token" not in out
    assert "Asia/Ho_Chi_Minh" in out


def test_cli_reports_config_error_in_vietnamese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from appliance.cli import main

    bad = tmp_path / "c.toml"
    bad.write_text('[sync]\ninterval_s = "x"\n', encoding="utf-8")
    assert main(["--config", str(bad), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "Lỗi" in err and "sync.interval_s" in err


def test_vietnamese_message_states_the_expectation_in_vietnamese() -> None:
    with pytest.raises(ConfigError) as err:
        config.from_mapping({"sync": {"interval_s": 1}}, "a.toml", env={})
    assert "từ 10 đến 86400 giây" in err.value.vi
    assert "10 to 86400 seconds" in err.value.en
    with pytest.raises(ConfigError) as err:
        config.from_mapping({"central": {"read_timeout_s": -1}}, "a.toml", env={})
    assert "số giây lớn hơn 0" in err.value.vi
