"""Broker security on a real Mosquitto 2.0 running the shipped template, with the logins and
ACLs that `barbell provision` makes: who may publish and read what, and who gets in."""

from __future__ import annotations

import stat
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from barbell.cli import main
from contract.config import MqttSettings, load
from contract.messages import RepMessage, SetMessage
from contract.topics import SERVERS, SHARED_INGEST, dead_letter, topic
from edge.config import EdgeConfig, SensorSettings, SimSettings, StateSettings
from edge.daemon import OUTBOX_FILE, run_edge
from edge.outbox import Outbox
from tests.helpers import Listener, wait_for
from tests.provisioned import NOT_AUTHORIZED, Client, ProvisionedBroker


@pytest.fixture(autouse=True)
def short_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edge.daemon.FLUSH_S", 5.0)


@pytest.fixture
def broker() -> Iterator[ProvisionedBroker]:
    """A gym's broker with two stations, a coach and a server provisioned."""
    provisioned = ProvisionedBroker()
    for station in ("bar1", "bar2"):
        provisioned.station("g1", station)
    provisioned.coach("g1", "anna")
    provisioned.server("ingest")
    with provisioned:
        yield provisioned


@pytest.fixture
def clients(broker: ProvisionedBroker) -> Iterator[dict[str, Client]]:
    """Logged in: the server on the shared subscription, bar1, and the coach."""
    server = Client(broker.logins_of["ingest"], "t-server")
    assert server.subscribe(broker.shared_ingest).value == 1  # granted QoS 1
    logged_in = {
        "server": server,
        "bar1": Client(broker.logins_of["bar1@g1"], "t-bar1"),
        "coach": Client(broker.logins_of["anna@g1"], "t-coach"),
    }
    yield logged_in
    for client in logged_in.values():
        client.close()


def test_a_provisioned_station_reaches_the_server_through_its_shared_subscription(
    broker: ProvisionedBroker, tmp_path: Path
) -> None:
    """The real edge daemon with the edge.toml that provisioning wrote, but for its sensor: the
    simulator stands in for the chips a provisioned station reads."""
    server = Listener(broker.logins_of["ingest"], "t-server", broker.shared_ingest, persistent=True)
    provisioned = load(EdgeConfig, broker.logins / "g1-bar1" / "edge.toml")
    assert provisioned.sensor.kind == "i2c"
    config = msgspec.structs.replace(
        provisioned,
        sensor=SensorSettings(kind="sim"),
        sim=SimSettings(reps=3, realtime=False),
        state=StateSettings(dir=tmp_path),
    )
    measured: list[RepMessage | SetMessage] = []
    try:
        run_edge(config, threading.Event(), on_message=measured.append)
        sent = sorted(m.msg_id for m in measured)
        wait_for(lambda: sorted(server.msg_ids) == sent, what="every rep and set at the server")
    finally:
        server.close()
    assert len(sent) == 7  # 3 reps, their paths and their set
    # Under the secret id provisioning drew for it (test_each_station_and_coach_session_…).
    log = broker.daemon.log_tail(lines=10_000)
    assert f" as {provisioned.mqtt.client_id} " in log, log[-2000:]


def test_each_station_and_coach_session_is_named_by_a_secret(broker: ProvisionedBroker) -> None:
    """Mosquitto binds no client id to a login: one that knew a station's id could connect
    under it and take its session, with the commands and advice queued for it. Provisioning
    ends each id with a secret, drawn anew each time, as it draws the servers' share group."""
    station, coach = broker.logins_of["bar1@g1"].client_id, broker.logins_of["anna@g1"].client_id
    assert station is not None and station.startswith("barbell-edge-g1-bar1-")
    assert coach is not None and coach.startswith("barbell-coach-g1-anna-")
    again = broker.station("g1", "bar1").mqtt.client_id
    assert again is not None and again != station


def test_a_station_logged_in_as_another_keeps_its_refused_reps_in_the_outbox(
    broker: ProvisionedBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """bar2's config with bar1's login: the broker refuses every rep (0x87), and not one may
    leave the outbox as if it had been delivered."""
    bar2 = load(EdgeConfig, broker.logins / "g1-bar2" / "edge.toml")
    config = msgspec.structs.replace(
        bar2,
        mqtt=broker.logins_of["bar1@g1"],
        sensor=SensorSettings(kind="sim"),
        sim=SimSettings(reps=3, realtime=False),
        state=StateSettings(dir=tmp_path),
    )
    sent = run_edge(config, threading.Event())
    assert sent == 7  # 3 reps, their paths and their set
    outbox = Outbox(tmp_path / OUTBOX_FILE)
    try:
        assert outbox.depth == 7
    finally:
        outbox.close()
    assert "broker refused message" in caplog.text and "kept in the outbox" in caplog.text


def test_a_station_cannot_publish_as_another(clients: dict[str, Client]) -> None:
    bar1, server = clients["bar1"], clients["server"]
    # Mosquitto 2.0 answers a denied QoS 1 publish with PUBACK "not authorized" and drops it.
    for forged in (topic("g1", "bar2", "rep"), topic("g2", "bar1", "rep")):
        assert bar1.publish(forged).value == NOT_AUTHORIZED
    assert bar1.publish(topic("g1", "bar1", "alert")).value == NOT_AUTHORIZED
    assert bar1.publish(topic("g1", "bar1", "rep")).value == 0
    # The broker handles one client's packets in order: once bar1's own rep is in, the forged
    # ones would have been too.
    wait_for(lambda: topic("g1", "bar1", "rep") in server.topics(), what="bar1's own rep")
    assert server.topics() == [topic("g1", "bar1", "rep")]


def test_no_login_but_the_servers_can_take_a_turn_in_their_shared_subscription(
    broker: ProvisionedBroker, clients: dict[str, Client]
) -> None:
    """Mosquitto 2.0.11 lets any login join a share group it names, hands it every other
    message and drops those at its read check, while the publisher has its PUBACK: half of the
    reps would be lost. Its ACLs cannot refuse the join, so the group is a secret that
    provisioning draws for the servers: a station and a coach that join the well-known group, or
    guess, share nothing with the server."""
    assert broker.shared_ingest != SHARED_INGEST
    guesses = [SHARED_INGEST, "$share/barbell-ingest-0/barbell/v1/+/+/#", "$share/ingest/#"]
    intruders = [Client(broker.logins_of[user], f"t-in-{n}") for n, user in
                 enumerate(("bar2@g1", "anna@g1"))]  # fmt: skip
    for intruder in intruders:
        for guess in guesses:
            intruder.subscribe(guess)
    bar1, server = clients["bar1"], clients["server"]
    for i in range(20):
        assert bar1.publish(topic("g1", "bar1", "rep"), f"{i}".encode()).value == 0
    wait_for(lambda: len(server.messages) == 20, what="every rep at the server")
    assert all(intruder.messages == [] for intruder in intruders)
    for intruder in intruders:
        intruder.close()


def test_only_a_server_may_say_which_servers_serve(clients: dict[str, Client]) -> None:
    """A forged `up` would let the one server left hand its share back to no one
    (server/membership.py): a station or a coach may neither write the states nor read them."""
    bar1, coach, server = clients["bar1"], clients["coach"], clients["server"]
    state = f"{SERVERS}/group/t-server"
    for intruder in (bar1, coach):
        assert intruder.publish(f"{SERVERS}/group/forged", b"up").value == NOT_AUTHORIZED
        intruder.subscribe(f"{SERVERS}/#")
    server.subscribe(f"{SERVERS}/#")
    assert server.publish(state, b"up").value == 0
    wait_for(lambda: (state, b"up") in server.messages, what="the server's own state")
    assert bar1.messages == [] and coach.messages == []


def test_a_station_hears_only_its_own_commands(clients: dict[str, Client]) -> None:
    bar1, coach = clients["bar1"], clients["coach"]
    # Mosquitto 2.0.11 grants the subscription, then checks read access on each message.
    bar1.subscribe(topic("g1", "bar2", "cmd"))
    bar1.subscribe("barbell/v1/g1/+/cmd")
    assert coach.publish(topic("g1", "bar2", "cmd"), b"start").value == 0
    assert coach.publish(topic("g1", "bar1", "cmd"), b"start").value == 0
    wait_for(lambda: bar1.messages != [], what="bar1's own command")
    assert bar1.messages == [(topic("g1", "bar1", "cmd"), b"start")]


def test_the_coach_commands_and_reads_alerts_but_cannot_write_data(
    clients: dict[str, Client],
) -> None:
    bar1, coach, server = clients["bar1"], clients["coach"], clients["server"]
    coach.subscribe("barbell/v1/g1/#")  # read access on alerts, advice and status only
    for forged in ("rep", "set", "status", "alert", "advice"):
        assert coach.publish(topic("g1", "bar1", forged)).value == NOT_AUTHORIZED
    assert coach.publish(topic("g2", "bar1", "cmd")).value == NOT_AUTHORIZED  # another gym
    assert bar1.publish(topic("g1", "bar1", "rep")).value == 0
    wait_for(lambda: server.topics() != [], what="the rep at the server")
    assert server.publish(topic("g1", "bar1", "alert"), b"slow").value == 0
    assert server.publish(dead_letter(topic("g1", "bar1", "rep")), b"bad").value == 0
    wait_for(lambda: coach.messages != [], what="the alert at the coach")
    # The rep went out to every subscriber before the server, having got it, sent the alert.
    assert coach.messages == [(topic("g1", "bar1", "alert"), b"slow")]
    # The server hears its own verdicts too, and nothing the coach forged.
    wait_for(lambda: len(server.messages) >= 3, what="the server's own verdicts")
    assert server.topics() == [
        topic("g1", "bar1", "rep"),
        topic("g1", "bar1", "alert"),
        dead_letter(topic("g1", "bar1", "rep")),
    ]


@pytest.mark.parametrize(
    ("user", "password"),
    [("bar1@g1", "not-the-password"), ("bar9@g1", "whatever"), (None, None)],
    ids=["wrong password", "unknown user", "anonymous"],
)
def test_strangers_are_refused(
    broker: ProvisionedBroker, tmp_path: Path, user: str | None, password: str | None
) -> None:
    secret = None
    if password is not None:
        secret = tmp_path / "password"
        secret.write_text(password)
    settings = MqttSettings(
        url=broker.url, ca_file=broker.ca_file, username=user, password_file=secret
    )
    stranger = Client(settings, "t-stranger")
    try:
        assert stranger.connack is not None and stranger.connack.value == NOT_AUTHORIZED
    finally:
        stranger.close()


def test_provisioning_again_replaces_the_password(broker: ProvisionedBroker) -> None:
    old = broker.logins_of["bar1@g1"]
    old_password = old.password_file.read_text() if old.password_file else ""
    # Provisioning again writes a new password over the old file: keep a copy of the old one.
    kept = broker.dir / "old-password"
    kept.write_text(old_password)
    new = broker.station("g1", "bar1").mqtt
    broker.reload()
    assert new.password_file is not None and new.password_file.read_text() != old_password
    wait_for(lambda: _refused(msgspec.structs.replace(old, password_file=kept)), what="reload")
    client = Client(new, "t-bar1-new")
    try:
        assert client.connack is not None and client.connack.value == 0
    finally:
        client.close()
    passwd = (broker.conf / "passwd").read_text()
    assert passwd.count("bar1@g1:") == 1 and old_password.strip() not in passwd


def _refused(settings: MqttSettings) -> bool:
    client = Client(settings, "t-old")
    client.close()
    return client.connack is not None and client.connack.value == NOT_AUTHORIZED


def test_secrets_are_private_and_never_printed(
    broker: ProvisionedBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    out = broker.login("station", "--gym", "g1", "--id", "bar7")
    password = (out / "mqtt-password").read_text().strip()
    assert len(password) >= 32
    assert password not in capsys.readouterr().out
    for private in (out / "mqtt-password", broker.conf / "passwd", broker.conf / "acl"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    assert stat.S_IMODE((out / "edge.toml").stat().st_mode) == 0o644  # no secret in it
    assert tomllib.loads((out / "edge.toml").read_text())["mqtt"]["username"] == "bar7@g1"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["station", "--gym", "g1", "--id", "bar/1"], "--id 'bar/1': use 1–64 letters"),
        (["station", "--gym", "+", "--id", "bar1"], "--gym '+': use 1–64 letters"),
        (["coach", "--gym", "g1", "--name", "bar1"], "user 'bar1@g1' is already a station"),
        (["server", "--name", "ingest", "--url", "mqtt://h:1883"], "TLS only, use mqtts://"),
        (["server", "--name", "x", "--url", "http://h"], "must look like mqtt://"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    broker: ProvisionedBroker,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    defaults = ["--broker-dir", str(broker.conf), "--out", str(tmp_path / "out")]
    if "--url" not in argv:
        defaults += ["--url", broker.url]
    before = (broker.conf / "passwd").read_text(), (broker.conf / "acl").read_text()
    assert main(["provision", *argv, *defaults]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error, error
    assert before == ((broker.conf / "passwd").read_text(), (broker.conf / "acl").read_text())
    assert not (tmp_path / "out" / "mqtt-password").exists()


def test_a_broker_dir_that_was_never_provisioned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["server", "--name", "x", "--url", "mqtts://h:8883", "--broker-dir", str(tmp_path)]
    assert main(["provision", *argv, "--out", str(tmp_path / "out")]) == 2
    assert "run `barbell provision broker`" in capsys.readouterr().err
