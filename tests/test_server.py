"""`barbell server` as a whole on real parts: a simulated station's faulty reps become a coach
alert (on `…/alert` and at a webhook) and, when the set ends, retained next-load advice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract.config import MqttSettings
from contract.messages import (
    AdviceMessage,
    AlertMessage,
    RepMessage,
    SetMessage,
    StatusMessage,
    encode,
)
from contract.topics import topic
from edge.config import EdgeConfig, SimSettings, StateSettings, StationSettings
from edge.daemon import run_edge
from edge.outbox import Outbox
from edge.publisher import Publisher
from server.advice import AdviceSettings
from server.alerts import AlertSettings
from server.config import InfluxSettings, ServerConfig
from tests.helpers import Listener, TcpProxy, Webhook, rows, running_server, wait_for


def test_faulty_reps_alert_the_coach_and_a_finished_set_gets_advice(
    mosquitto: LocalMosquitto,
    influxdb: LocalInfluxDB,
    tmp_path: Path,
) -> None:
    webhook = Webhook()
    coach = Listener(mosquitto.url, "t-coach", "barbell/v1/g1/bar7/alert")
    config = ServerConfig(
        mqtt=MqttSettings(url=mosquitto.url, client_id="t-server"),
        influx=InfluxSettings(url=influxdb.url),
        alerts=AlertSettings(urls=[webhook.url]),
    )
    reps: list[RepMessage] = []
    try:
        station = EdgeConfig(
            mqtt=MqttSettings(url=mosquitto.url),
            station=StationSettings(gym="g1", id="bar7"),
            # Three tilted reps in a row: the default `form` rule's streak.
            sim=SimSettings(
                lift="hip_thrust", reps=6, seed=91, realtime=False, faults=["bar_tilt:1@3,4,5"]
            ),
            state=StateSettings(dir=tmp_path),
        )
        with running_server(config):
            run_edge(
                station,
                threading.Event(),
                on_message=lambda m: reps.append(m) if isinstance(m, RepMessage) else None,
            )
            wait_for(lambda: bool(coach.messages) and bool(webhook.bodies), what="the alert")
            wait_for(lambda: rows(influxdb, 'SELECT * FROM "advice"') != [], what="advice stored")
    finally:
        coach.close()
        webhook.close()
    alerts = {m.rule: m for m in coach.messages if isinstance(m, AlertMessage)}
    # A critical tilt at once, the run of three, and the station going offline at the end.
    assert sorted(alerts) == ["form.bar_tilt", "form_critical.bar_tilt", "station_offline"]
    by_id = {r.msg_id: r for r in reps}
    first, run = alerts["form_critical.bar_tilt"], alerts["form.bar_tilt"]
    assert first.rep_ref and by_id[first.rep_ref].fault_streaks == {"bar_tilt": 1}
    assert run.rep_ref and by_id[run.rep_ref].fault_streaks == {"bar_tilt": 3}
    assert (run.athlete, run.station, run.severity) == ("sim", "bar7", "warn")  # the rule's
    assert sorted(body["message"] for body in webhook.bodies) == sorted(
        alert.message for alert in alerts.values()
    )
    stored = rows(influxdb, 'SELECT "message" FROM "alert" GROUP BY "rule"')
    assert sorted(row["rule"] for row in stored) == sorted(alerts)
    # Advice is retained: a display that connects later still gets it.
    display = Listener(mosquitto.url, "t-display", "barbell/v1/g1/bar7/advice")
    try:
        wait_for(lambda: bool(display.messages), what="the retained advice")
    finally:
        display.close()
    [advice] = display.messages
    assert isinstance(advice, AdviceMessage)
    assert (advice.athlete, advice.lift, advice.next_load_kg) == ("sim", "hip_thrust", None)
    assert "need sets at" in advice.reason  # one set at one load is no profile yet


def test_every_time_a_station_drops_off_the_coach_hears_of_it(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, tmp_path: Path
) -> None:
    """Each connection has its own will, so the second Wi-Fi drop is not taken for the first."""
    config = ServerConfig(
        mqtt=MqttSettings(url=mosquitto.url, client_id="t-server-wills"),
        influx=InfluxSettings(url=influxdb.url),
        alerts=AlertSettings(cooldown_s=0),
    )
    coach = Listener(mosquitto.url, "t-coach-wills", "barbell/v1/g1/bar8/+")  # status, alert
    proxy = TcpProxy(mosquitto.port)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    station = Publisher(MqttSettings(url=f"mqtt://127.0.0.1:{proxy.port}"), "g1", "bar8", outbox)
    try:
        with running_server(config):
            station.start()
            for drop in (1, 2):
                wait_for(lambda n=drop: len(states(coach, "online")) == n, what="online again")
                proxy.cut()  # the broker sends the station's will
                wait_for(lambda n=drop: len(alerts(coach)) == n, what=f"offline alert {drop}")
                proxy.restore()
            wait_for(lambda: len(offline_points(influxdb)) == 2, what="both drops stored")
    finally:
        station.stop()
        outbox.close()
        proxy.close()
        coach.close()
    assert [alert.rule for alert in alerts(coach)] == ["station_offline"] * 2
    first, second = states(coach, "offline")[:2]
    assert first.since < second.since  # each connection's own will


def alerts(listener: Listener) -> list[AlertMessage]:
    return [m for m in listener.messages if isinstance(m, AlertMessage)]


def states(listener: Listener, state: str) -> list[StatusMessage]:
    return [m for m in listener.messages if isinstance(m, StatusMessage) and m.state == state]


def offline_points(influxdb: LocalInfluxDB) -> list[dict]:
    return rows(influxdb, 'SELECT "state" FROM "station_health" WHERE "state" = \'offline\'')


def _rep_of(station: str, i: int, t0: float) -> RepMessage:
    return RepMessage(
        msg_id=f"{station}/r{i}", gym="g1", station=station, session_id="s1", lift="squat",
        set_index=0, athlete="ana" if station == "bar1" else "ben", load_kg=100.0, rep_index=i,
        t_start=t0 + 3 * i, t_concentric_start=t0 + 3 * i + 1, t_concentric_end=t0 + 3 * i + 1.6,
        t_end=t0 + 3 * i + 1.6, rom_m=0.5, mean_velocity_mps=0.6 - 0.02 * i,
    )  # fmt: skip


def test_a_set_waiting_for_its_reps_does_not_hold_anyone_elses(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    """bar1's set arrives before its reps (another server process has them, or they are late):
    its advice waits for them, up to 30 s here, while bar2's reps are stored meanwhile; once
    bar1's reps come, its advice is given from all three."""
    config = ServerConfig(
        mqtt=MqttSettings(url=mosquitto.url, client_id="t-server"),
        influx=InfluxSettings(url=influxdb.url),
        advice=AdviceSettings(wait_for_reps_s=30.0),
    )
    t0 = time.time() - 60
    done = SetMessage(
        msg_id="bar1/set0", gym="g1", station="bar1", session_id="s1", lift="squat", set_index=0,
        athlete="ana", load_kg=100.0, reps=3, t_start=t0, t_end=t0 + 9,
    )  # fmt: skip
    stations = Listener(mosquitto.url, "t-stations", "barbell/v1/none")

    def publish(station: str, kind: str, message: RepMessage | SetMessage) -> None:
        stations.client.publish(
            topic("g1", station, kind), encode(message), qos=1
        ).wait_for_publish(5)

    try:
        with running_server(config):
            publish("bar1", "set", done)
            for i in range(3):
                publish("bar2", "rep", _rep_of("bar2", i, t0))
            wait_for(
                lambda: (
                    len(rows(influxdb, """SELECT * FROM "rep" WHERE "station" = 'bar2'""")) == 3
                ),
                what="bar2's reps, with bar1's set still waiting",
            )
            assert rows(influxdb, 'SELECT * FROM "advice"') == []
            for i in range(3):
                publish("bar1", "rep", _rep_of("bar1", i, t0))
            wait_for(lambda: rows(influxdb, 'SELECT * FROM "advice"') != [], what="bar1's advice")
    finally:
        stations.close()
    [advice] = rows(influxdb, 'SELECT * FROM "advice"')
    assert advice["station"] == "bar1" and "of the set's" not in advice["reason"]


def test_an_offline_status_seen_again_is_stored_and_alerted_once(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    """A station went quiet before any server ran: the servers only ever see its will retained,
    handed over at each subscription. The first sees news (stored, alerted); the next, after a
    restart, the same will again (neither, though the cooldown is off)."""
    config = ServerConfig(
        mqtt=MqttSettings(url=mosquitto.url, client_id="t-server-wills"),
        influx=InfluxSettings(url=influxdb.url),
        alerts=AlertSettings(cooldown_s=0),
    )
    t0 = time.time() - 3600
    will = StatusMessage(state="offline", version="0.1.0", since=t0, gym="g1", station="bar1")
    station = Listener(mosquitto.url, "t-station-wills", "barbell/v1/none")
    try:
        station.client.publish(
            topic("g1", "bar1", "status"), encode(will), qos=1, retain=True
        ).wait_for_publish(5)
        for start in range(2):
            with running_server(config):
                # A rep after it: once the rep is stored, the will handed over before it was seen.
                rep = _rep_of("bar2", start, t0)
                station.client.publish(topic("g1", "bar2", "rep"), encode(rep), qos=1)
                wait_for(lambda n=start: len(rows(influxdb, 'SELECT * FROM "rep"')) == n + 1)
    finally:
        station.close()
    assert len(offline_points(influxdb)) == 1
    assert [row["rule"] for row in rows(influxdb, 'SELECT * FROM "alert"')] == ["station_offline"]


def test_an_outage_over_before_the_server_hears_of_it_is_stored_in_its_place_unalerted(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    """The station dropped off and came back while no server ran: its will, drained late,
    goes before its return in the store, and no coach is told of an outage that is over."""
    config = ServerConfig(
        mqtt=MqttSettings(url=mosquitto.url, client_id="t-server-late"),
        influx=InfluxSettings(url=influxdb.url),
        alerts=AlertSettings(cooldown_s=0),
    )
    with running_server(config):
        pass  # its session, kept, holds what comes while it is away
    first, back = time.time() - 3600, time.time() - 600
    station = Listener(mosquitto.url, "t-station-late", "barbell/v1/none")
    try:
        for state, since in (("offline", first), ("online", back)):
            status = StatusMessage(
                state=state, version="0.1.0", since=since, gym="g1", station="bar1"
            )  # type: ignore[arg-type]
            station.client.publish(
                topic("g1", "bar1", "status"), encode(status), qos=1, retain=True
            ).wait_for_publish(5)
        with running_server(config):
            wait_for(lambda: len(rows(influxdb, 'SELECT "state" FROM "station_health"')) == 2)
    finally:
        station.close()
    stored = rows(influxdb, 'SELECT "state" FROM "station_health"')  # in time order
    assert [row["state"] for row in stored] == ["offline", "online"]
    assert rows(influxdb, 'SELECT * FROM "alert"') == []
