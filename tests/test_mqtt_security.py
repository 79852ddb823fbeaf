"""TLS and passwords on the MQTT link, on a real Mosquitto that admits only its users."""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from barbell.services import LocalMosquitto, issue_certificates
from contract.config import MqttSettings, load
from contract.errors import ConfigError
from contract.messages import RepMessage, SetMessage
from contract.mqtt import connect, make_client
from edge.config import EdgeConfig, SensorSettings, SimSettings, StateSettings, StationSettings
from edge.daemon import OUTBOX_FILE, run_edge
from edge.outbox import Outbox
from tests.helpers import Listener, wait_for

USERS = {"bar1": "bar1-s3cret", "coach": "coach-s3cret"}
TYPO = "bar1-s3cert"  # a wrong password, which must never reach a log


@pytest.fixture
def broker() -> Iterator[LocalMosquitto]:
    with LocalMosquitto(users=USERS) as running:
        yield running


@pytest.fixture
def coach(broker: LocalMosquitto, tmp_path: Path) -> Iterator[Listener]:
    listener = Listener(
        _login(broker, "coach", USERS["coach"], tmp_path), "t-coach", "barbell/v1/+/+/#"
    )
    yield listener
    listener.close()


@pytest.fixture(autouse=True)
def short_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    """A simulated session waits this long for a broker that will not take its reps."""
    monkeypatch.setattr("edge.daemon.FLUSH_S", 2.0)


def _login(broker: LocalMosquitto, user: str, password: str, tmp_path: Path) -> MqttSettings:
    secret = tmp_path / f"{user}.password"
    secret.write_text(f"{password}\n")
    secret.chmod(0o600)
    return MqttSettings(url=broker.url, ca_file=broker.ca_file, username=user, password_file=secret)


def _station(mqtt: MqttSettings, state: Path) -> list[RepMessage | SetMessage]:
    """Run a simulated station through a set of 4 reps; returns what it measured."""
    measured: list[RepMessage | SetMessage] = []
    config = EdgeConfig(
        mqtt=mqtt,
        station=StationSettings(gym="g1", id="bar1"),
        sensor=SensorSettings(kind="sim"),
        sim=SimSettings(reps=4, realtime=False),
        state=StateSettings(dir=state),
    )
    run_edge(config, threading.Event(), on_message=measured.append)
    return measured


def _waiting(state: Path) -> int:
    outbox = Outbox(state / OUTBOX_FILE)
    try:
        return outbox.depth
    finally:
        outbox.close()


def test_a_station_delivers_every_rep_over_tls_with_a_password(
    broker: LocalMosquitto, coach: Listener, tmp_path: Path
) -> None:
    measured = _station(_login(broker, "bar1", USERS["bar1"], tmp_path), tmp_path)
    assert len(measured) == 9  # 4 reps, each with its path, and the set
    wait_for(
        lambda: {m.msg_id for m in measured} <= set(coach.msg_ids), what="every rep at the coach"
    )
    assert _waiting(tmp_path) == 0


def test_a_wrong_password_is_refused_clearly_and_the_reps_wait_for_the_right_one(
    broker: LocalMosquitto, coach: Listener, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        measured = _station(_login(broker, "bar1", TYPO, tmp_path), tmp_path)
    assert f"broker {broker.url} refused user 'bar1': Not authorized" in caplog.text
    assert "check mqtt.username and mqtt.password_file" in caplog.text
    assert "messages wait in the outbox" in caplog.text
    assert TYPO not in caplog.text
    assert _waiting(tmp_path) == len(measured) == 9
    assert coach.msg_ids == []

    _station(_login(broker, "bar1", USERS["bar1"], tmp_path), tmp_path)  # fixed and restarted
    wait_for(
        lambda: {m.msg_id for m in measured} <= set(coach.msg_ids), what="the refused run's reps"
    )
    assert _waiting(tmp_path) == 0


@pytest.mark.parametrize(
    "trust, problem",
    [
        ("system", "unable to get local issuer certificate"),  # ca_file forgotten
        ("other gym", "unable to get local issuer certificate"),
        ("wrong name", "Hostname mismatch"),  # the right CA, but not this broker's name
    ],
)
def test_a_broker_certificate_the_station_does_not_trust_is_refused(
    broker: LocalMosquitto,
    coach: Listener,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    trust: str,
    problem: str,
) -> None:
    other_gym = tmp_path / "other-gym"
    other_gym.mkdir()
    issue_certificates(other_gym)
    ca_file = {"system": None, "other gym": other_gym / "ca.pem", "wrong name": broker.ca_file}
    host = "localhost" if trust == "wrong name" else "127.0.0.1"
    settings = MqttSettings(
        url=f"mqtts://{host}:{broker.port}",
        ca_file=ca_file[trust],
        username="bar1",
        password_file=_login(broker, "bar1", USERS["bar1"], tmp_path).password_file,
    )
    with caplog.at_level(logging.INFO):
        measured = _station(settings, tmp_path)
    assert "certificate not trusted: " + problem in caplog.text
    assert "is mqtt.ca_file the CA that signed it?" in caplog.text
    assert _waiting(tmp_path) == len(measured) == 9
    assert coach.msg_ids == []


def test_a_refused_client_backs_off_instead_of_hammering_the_broker(
    broker: LocalMosquitto, tmp_path: Path
) -> None:
    settings = _login(broker, "bar1", TYPO, tmp_path)
    client = make_client(settings, "t-refused")
    attempts: list[float] = []
    client.on_connect = lambda *args: attempts.append(time.monotonic())
    connect(client, settings)
    try:
        wait_for(lambda: len(attempts) >= 3, timeout_s=10, what="three refused attempts")
    finally:
        client.disconnect()
        client.loop_stop()
    first, second = attempts[1] - attempts[0], attempts[2] - attempts[1]
    assert 0.9 < first < 1.5 and 1.9 < second < 2.5  # 1 s, then 2 s: doubling up to 30 s


@pytest.mark.parametrize(
    "toml, words",
    [
        ('url = "mqtt://gym:1883"\nca_file = "{ca}"', "mqtt.ca_file needs an mqtts:// url"),
        ('url = "mqtts://gym:8883"\nca_file = "{dir}/nope.pem"', "mqtt.ca_file {dir}/nope.pem: no"),
        ('url = "mqtts://gym:8883"\nkey_file = "{ca}"', "mqtt.key_file needs mqtt.cert_file"),
        ('password_file = "{ca}"', "mqtt.password_file needs mqtt.username"),
        ('username = "bar1"\npassword_file = "{dir}/nope"', "mqtt.password_file {dir}/nope: no"),
    ],
)
def test_bad_tls_and_password_settings_name_the_key(tmp_path: Path, toml: str, words: str) -> None:
    (tmp_path / "ca.pem").write_text("")
    path = tmp_path / "edge.toml"
    path.write_text("[mqtt]\n" + toml.format(ca=tmp_path / "ca.pem", dir=tmp_path) + "\n")
    with pytest.raises(ConfigError, match=re.escape(words.format(dir=tmp_path))):
        load(EdgeConfig, path, {})


def test_a_file_that_is_not_a_ca_certificate_is_refused_at_start_up(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match=re.escape(f"mqtt.ca_file {ca}: not a CA certificate")):
        make_client(MqttSettings(url="mqtts://gym:8883", ca_file=ca), "t-bad-ca")


def test_an_encrypted_client_key_is_refused_not_prompted_for(tmp_path: Path) -> None:
    issue_certificates(tmp_path)
    subprocess.run(
        shlex.split("openssl pkey -in server.key -aes128 -passout pass:x -out locked.key"),
        cwd=tmp_path,
        check=True,
    )
    settings = MqttSettings(
        url="mqtts://gym:8883", cert_file=tmp_path / "server.pem", key_file=tmp_path / "locked.key"
    )
    with pytest.raises(ConfigError, match=r"mqtt\.cert_file .* its unencrypted key"):
        make_client(settings, "t-locked-key")


def test_check_config_names_a_missing_ca_file_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "barbell.cli", "edge", "--check-config"],
        env={
            **os.environ,
            "BARBELL_MQTT_URL": "mqtts://gym:8883",
            "BARBELL_MQTT_CA_FILE": str(tmp_path / "gym-ca.pem"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"mqtt.ca_file {tmp_path}/gym-ca.pem: no such file" in result.stderr


def test_a_broker_that_demands_a_client_certificate_admits_only_a_station_with_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalMosquitto(users=USERS, client_certificates=True) as broker:
        card = {"cert_file": broker.dir / "client.pem", "key_file": broker.dir / "client.key"}
        coach = Listener(
            msgspec.structs.replace(_login(broker, "coach", USERS["coach"], tmp_path), **card),
            "t-coach",
            "barbell/v1/+/+/#",
        )
        try:
            station = _login(broker, "bar1", USERS["bar1"], tmp_path)
            with caplog.at_level(logging.INFO):
                refused = _station(station, tmp_path / "without")
            assert "tlsv13 alert certificate required" in caplog.text
            assert _waiting(tmp_path / "without") == len(refused) == 9
            measured = _station(msgspec.structs.replace(station, **card), tmp_path / "with")
            wait_for(
                lambda: {m.msg_id for m in measured} <= set(coach.msg_ids),
                what="every rep at the coach",
            )
            assert coach.msg_ids == [m.msg_id for m in measured]
        finally:
            coach.close()
