"""Layered settings: TOML, then environment, then flags; bad values are one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.config import load
from contract.errors import ConfigError
from edge.config import EdgeConfig
from server.config import ServerConfig


def test_each_source_overrides_the_one_before(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(
        '[mqtt]\nurl = "mqtt://file:1883"\n[sim]\nreps = 3\nsets = 2\n[station]\nid = "bar9"\n'
    )
    environ = {
        "BARBELL_MQTT_URL": "mqtt://env:1884",
        "BARBELL_SIM_REPS": "8",
        "BARBELL_SIM_FAULTS": "momentum:0.8, bar_tilt",
    }
    config = load(
        EdgeConfig,
        path,
        environ,
        flags={"mqtt": {"url": "mqtt://flag:1885"}, "sim": {"sets": None}},
    )
    assert config.mqtt.url == "mqtt://flag:1885"
    assert (config.sim.reps, config.sim.sets, config.station.id) == (8, 2, "bar9")
    assert config.sim.faults == ["momentum:0.8", "bar_tilt"]


def test_the_spec_example_environment_configures_a_station() -> None:
    environ = {
        "BARBELL_MQTT_URL": "mqtt://127.0.0.1:1884",
        "BARBELL_SENSOR_KIND": "sim",
        "BARBELL_SIM_SETS": "1",
        "BARBELL_SIM_REPS": "10",
        "BARBELL_STATION_GYM": "g1",
        "BARBELL_STATION_ID": "bar1",
    }
    config = load(EdgeConfig, None, environ)
    assert (config.station.gym, config.station.id, config.sim.reps) == ("g1", "bar1", 10)


@pytest.mark.parametrize(
    "toml, words",
    [
        ('[sim]\nreps = "many"\n', "sim.reps"),
        ('[station]\ngym = "a/b"\n', "station.gym"),
        ('[mqtt]\nurl = "http://x"\n', "mqtt://"),
        ("[sim]\nrepz = 3\n", "repz"),
        ("[sim\n", "edge.toml"),
        ("[sensor]\ndrain_s = 0.2\n", "sensor.drain_s 0.2 s would nearly fill the IMU's FIFO"),
        ('[sensor]\nkind = "i2c"\nrate_hz = 250\n', "sensor.rate_hz 250: the ICM-42688-P runs at"),
        ('[mqtt]\nurl = "mqtt://broker:99999"\n', "the port must be 0–65535"),
        ('[mqtt]\nurl = "mqtt://"\n', "names no host"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, toml: str, words: str) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        load(EdgeConfig, path, {})


def test_influx_v2_needs_org_and_bucket() -> None:
    with pytest.raises(ConfigError, match="org"):
        load(ServerConfig, None, {"BARBELL_INFLUX_API": "2"})


def test_paths_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret\n")
    path = tmp_path / "edge.toml"
    path.write_text(f'[mqtt]\nusername = "bar1"\npassword_file = "{secret}"\n')
    config = load(EdgeConfig, path, {"BARBELL_STATE_DIR": str(tmp_path / "state")})
    assert config.mqtt.password_file == secret
    assert config.state.dir == tmp_path / "state"
