"""`barbell server` as a whole on real parts: a simulated station's faulty reps become a coach
alert (on `…/alert` and at a webhook) and, when the set ends, retained next-load advice."""

from __future__ import annotations

import threading
from pathlib import Path

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract.config import MqttSettings
from contract.messages import AdviceMessage, AlertMessage, RepMessage
from edge.config import EdgeConfig, SimSettings, StateSettings, StationSettings
from edge.daemon import run_edge
from server.alerts import AlertSettings
from server.config import InfluxSettings, ServerConfig
from tests.helpers import Listener, Webhook, rows, running_server, wait_for


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
