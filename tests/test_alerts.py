"""Coach alerts on real parts: rules on simulated sets, the cooldown in a real InfluxDB shared by
two server processes, alerts on a real Mosquitto, and apprise delivering to a local webhook and a
local SMTP server."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiosmtpd.controller import Controller

from barbell.services import LocalInfluxDB, LocalMosquitto, free_port
from contract import topics
from contract.config import MqttSettings, load
from contract.errors import ConfigError
from contract.faults import FAULT_CODES
from contract.lifts import VELOCITY_AT_1RM_MPS
from contract.messages import (
    AlertMessage,
    Fault,
    HealthMessage,
    PathMessage,
    RepMessage,
    SetMessage,
    StatusMessage,
)
from contract.mqtt import connect, make_client
from edge.analysis import AnalysisSettings, RepAnalysis
from edge.analysis.faults import CODES as EDGE_CODES
from edge.session import Outgoing, Session, SessionInfo
from hardware.faults import EFFECTS
from hardware.simulate import SimSpec, simulate
from server.alerting import Alerts
from server.alerts import (
    CODES,
    AlertRules,
    AlertSettings,
    FaultRule,
    NearFailureRule,
    VelocityLossRule,
)
from server.config import InfluxSettings
from server.influx import InfluxReader, V1Writer, WriteError
from server.notify import Notifier
from tests.helpers import Listener, Webhook, rows, wait_for

REP_TOPIC = topics.topic("g1", "bar1", "rep")


def simulated(spec: SimSpec, athlete: str = "ana") -> list[Outgoing]:
    """The wire messages the edge sends for a simulated session, in order (paths included)."""
    sim = simulate(spec)
    analysis = RepAnalysis(AnalysisSettings(lift=spec.lift, load_kg=spec.load_kg))
    session = Session(SessionInfo("g1", "bar1", "s1", spec.lift, athlete, spec.load_kg))
    messages: list[Outgoing] = []
    for chunk in sim.recording.split(50):
        messages += session.messages(analysis.feed(chunk))
    return messages + session.messages(analysis.finish())


def rep(i: int, t: float = 1000.0, **fields: Any) -> RepMessage:
    """Rep i of set 0, four seconds apart from t on."""
    start = t + 4 * i
    base: dict[str, Any] = {
        "msg_id": f"g1/bar1/s1/s0/r{i}",
        "gym": "g1",
        "station": "bar1",
        "session_id": "s1",
        "lift": "hip_thrust",
        "set_index": 0,
        "athlete": "ana",
        "rep_index": i,
        "t_start": start,
        "t_concentric_start": start + 1,
        "t_concentric_end": start + 2,
        "t_end": start + 3,
        "rom_m": 0.3,
        "mean_velocity_mps": 0.6,
    }
    return RepMessage(**{**base, **fields})


def evaluate(rules: AlertRules, message: Outgoing) -> list[AlertMessage]:
    return rules.evaluate(message, topics.StationTopic("g1", "bar1", "rep"))


# Rules on messages


def test_the_default_rules_tell_of_a_run_of_short_reps_once_and_of_a_critical_one_at_once() -> None:
    spec = SimSpec(lift="hip_thrust", reps=7, seed=61, faults=("partial_lockout:1@3,4,5,6",))
    messages = simulated(spec)
    reps = [m for m in messages if isinstance(m, RepMessage)]
    assert len(reps) == 7
    rules = AlertRules(AlertSettings().rules)
    raised = {(a.rule, a.rep_ref): a for m in messages for a in evaluate(rules, m)}
    # The injected fault is obvious (a quarter of the ROM short: critical) on reps 3 to 6, so
    # the critical rule fires on the first of them and the streak rule when the run reaches 3.
    assert set(raised) == {
        ("form_critical.partial_lockout", reps[2].msg_id),
        ("form.partial_lockout", reps[4].msg_id),
    }
    streak = raised["form.partial_lockout", reps[4].msg_id]
    assert streak.severity == "warn" and streak.athlete == "ana" and streak.lift == "hip_thrust"
    assert streak.t == reps[4].t_concentric_end
    assert streak.message.startswith("ana: partial lockout on 3 reps in a row, critical")
    assert "(hip thrust, set 1, rep 5): ROM " in streak.message
    found = re.search(r"ROM ([\d.]+) m vs ([\d.]+) m reference$", streak.message)
    assert found is not None, streak.message
    short, reference = float(found[1]), float(found[2])
    assert short == pytest.approx(reps[4].rom_m, abs=0.005)
    assert short / reference == pytest.approx(0.75, abs=0.04)  # the injected quarter short


def test_a_streak_rule_fires_when_the_run_reaches_n_for_its_codes_and_severity() -> None:
    rules = AlertRules([FaultRule(codes=["bar_tilt"], min_severity="critical", streak=2)])

    def tilted(i: int, severity: str, streak: int) -> RepMessage:
        fault = Fault("bar_tilt", severity, 7.0, 3.0)  # type: ignore[arg-type]
        drift = Fault("bar_drift", "critical", 0.1, 0.035)
        return rep(i, faults=[fault, drift], fault_streaks={"bar_tilt": streak, "bar_drift": 2})

    fired = [
        bool(evaluate(rules, tilted(i, severity, streak)))
        for i, (severity, streak) in enumerate(
            [("critical", 1), ("critical", 2), ("critical", 3), ("warn", 2), ("critical", 2)]
        )
    ]
    assert fired == [False, True, False, False, True]
    [alert] = evaluate(rules, tilted(9, "critical", 2))
    assert alert.rule == "fault.bar_tilt"
    assert "bar tilt on 2 reps in a row" in alert.message and "7.0° vs 3.0°" in alert.message


def test_velocity_loss_fires_past_its_threshold_on_reps_and_on_the_set() -> None:
    messages = simulated(SimSpec(lift="squat", reps=6, seed=52, faults=("velocity_loss:1",)))
    rules = AlertRules([VelocityLossRule(threshold_pct=25)])
    for message in messages:
        alerts = evaluate(rules, message)
        if isinstance(message, PathMessage):
            assert alerts == []  # a path carries no velocity loss
            continue
        loss = message.velocity_loss_pct
        assert loss is not None
        assert bool(alerts) == (loss >= 25), message.msg_id
        for alert in alerts:
            assert alert.rule == "velocity_loss" and f"{loss:.0f} % velocity loss" in alert.message
    assert any(isinstance(m, SetMessage) and evaluate(rules, m) for m in messages)


def test_near_failure_is_the_lifts_1rm_speed_times_the_ratio_or_a_grinding_fault() -> None:
    rules = AlertRules([NearFailureRule(ratio=1.2)])
    v1rm = VELOCITY_AT_1RM_MPS["hip_thrust"]
    assert evaluate(rules, rep(0, mean_velocity_mps=round(v1rm * 1.2 + 0.01, 3))) == []
    [alert] = evaluate(rules, rep(1, mean_velocity_mps=round(v1rm * 1.2 - 0.01, 3)))
    assert f"vs 1.2 × the 1RM speed {v1rm:.2f} m/s" in alert.message
    grinding = Fault("grinding", "critical", 1.04, 1.3)
    assert evaluate(rules, rep(2, lift="auto", faults=[grinding]))[0].rule == "near_failure"
    warned = Fault("grinding", "warn", 1.25, 1.3)
    assert evaluate(rules, rep(3, faults=[warned])) == []  # critical grinding only, by default


def test_near_failure_reads_the_gyms_own_1rm_speeds_as_the_advice_does() -> None:
    """A gym whose lifters hip-thrust 1RMs at 0.40 m/s sets `[advice] v1rm_mps`: the advice's
    e1RM and the near-failure alert then agree on what a maximal rep looks like."""
    slow = rep(0, mean_velocity_mps=0.42)  # well above the table's hip-thrust v1RM × 1.1
    assert evaluate(AlertRules([NearFailureRule()]), slow) == []
    [alert] = evaluate(AlertRules([NearFailureRule()], {"hip_thrust": 0.40}), slow)
    assert "the 1RM speed 0.40 m/s" in alert.message
    own = NearFailureRule(v1rm_mps={"hip_thrust": 0.30})  # a rule's own table wins
    assert evaluate(AlertRules([own], {"hip_thrust": 0.40}), slow) == []


def test_a_station_offline_and_a_sensor_fault_name_the_station() -> None:
    rules = AlertRules(AlertSettings().rules)
    where = topics.StationTopic("g2", "bar7", "status")
    offline = StatusMessage(state="offline", version="0.1.0", since=1234.5)
    [alert] = rules.evaluate(offline, where)
    assert (alert.rule, alert.gym, alert.station, alert.t) == (
        "station_offline",
        "g2",
        "bar7",
        1234.5,
    )
    assert rules.evaluate(StatusMessage(state="online", version="0.1.0", since=1.0), where) == []
    health = HealthMessage(gym="g2", station="bar7", t=99.0, sensor_error="IMU FIFO overflow")
    [fault] = rules.evaluate(health, where)
    assert fault.rule == "sensor_fault" and fault.message.endswith("IMU FIFO overflow")
    assert rules.evaluate(HealthMessage(gym="g2", station="bar7", t=99.0), where) == []


def test_every_fault_code_the_contract_allows_is_judged_injected_and_worded() -> None:
    """The contract's codes are the only ones a message may carry: the edge judges each, the
    simulator can inject each, and each has words for a coach."""
    assert set(FAULT_CODES) == set(EDGE_CODES) == set(EFFECTS) == set(CODES)


# Settings


class _Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    alerts: AlertSettings = msgspec.field(default_factory=AlertSettings)


def test_rules_come_from_toml_and_the_defaults_apply_without_any(tmp_path: Path) -> None:
    secrets = tmp_path / "alert-urls"
    secrets.write_text("# the coaches' chat\nntfy://ntfy.example/barbell\n\n")
    path = tmp_path / "server.toml"
    path.write_text(
        "[alerts]\n"
        "cooldown_s = 60\n"
        'urls = ["json://127.0.0.1:9/hook"]\n'
        f'urls_file = "{secrets}"\n'
        "[[alerts.rules]]\n"
        'kind = "fault"\n'
        'codes = ["partial_lockout", "overextension"]\n'
        "streak = 2\n"
        'severity = "critical"\n'
        "[[alerts.rules]]\n"
        'kind = "near_failure"\n'
        "ratio = 1.2\n"
    )
    settings = load(_Config, path, {}).alerts
    assert settings.cooldown_s == 60
    assert settings.rules == [
        FaultRule(codes=["partial_lockout", "overextension"], streak=2, severity="critical"),
        NearFailureRule(ratio=1.2),
    ]
    assert settings.notify_urls() == ["json://127.0.0.1:9/hook", "ntfy://ntfy.example/barbell"]
    defaults = load(_Config, None, {}).alerts.rules
    assert {r.id for r in defaults} >= {"form", "near_failure", "station_offline"}


@pytest.mark.parametrize(
    "rule, words",
    [
        ('kind = "fault"\ncodes = ["bar_tlit"]', "bar_tlit"),
        ('kind = "velocity_loss"\nratio = 1.2', "ratio"),
        ('kind = "loud_music"', "loud_music"),
        ('kind = "fault"\nstreak = 0', "streak"),
        ('kind = "near_failure"\nv1rm_mps = { hip_trust = 0.3 }', "hip_trust"),
    ],
)
def test_a_bad_rule_is_one_error_naming_it(tmp_path: Path, rule: str, words: str) -> None:
    path = tmp_path / "server.toml"
    path.write_text(f"[[alerts.rules]]\n{rule}\n")
    with pytest.raises(ConfigError, match=words):
        load(_Config, path, {})


# The cooldown, storage and publishing, on a real InfluxDB and Mosquitto


class CountingReader:
    """The real reader, counting its queries."""

    def __init__(self, influx: LocalInfluxDB) -> None:
        self._reader = InfluxReader(InfluxSettings(url=influx.url))
        self.queries = 0

    def query(self, influxql: str) -> list[dict[str, Any]]:
        self.queries += 1
        return self._reader.query(influxql)


def server_process(
    influx: LocalInfluxDB, settings: AlertSettings | None = None, name: str = "barbell-server"
) -> tuple[Alerts, CountingReader, list[tuple[str, bytes]]]:
    """One server process's alerts: its own reader and writer, publishing into a list."""
    reader = CountingReader(influx)
    published: list[tuple[str, bytes]] = []
    alerts = Alerts(
        settings or AlertSettings(),
        reader,
        V1Writer(InfluxSettings(url=influx.url)).write,
        lambda topic, payload: published.append((topic, payload)),
        pusher=name,
    )
    return alerts, reader, published


def test_the_alert_point_is_stored_with_the_triggers_time(influxdb: LocalInfluxDB) -> None:
    alerts, _, published = server_process(influxdb)
    trigger = rep(
        4, faults=[Fault("bar_tilt", "critical", 8.0, 3.0)], fault_streaks={"bar_tilt": 1}
    )
    [alert] = alerts.consider(trigger, REP_TOPIC)
    [point] = rows(influxdb, 'SELECT * FROM "alert" GROUP BY *')
    assert point["time"] == time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(trigger.t_concentric_end)
    )
    assert (point["gym"], point["station"], point["athlete"], point["lift"]) == (
        "g1",
        "bar1",
        "ana",
        "hip_thrust",
    )
    assert (point["rule"], point["severity"]) == ("form_critical.bar_tilt", "critical")
    assert (point["message"], point["rep_ref"]) == (alert.message, trigger.msg_id)
    [(topic, payload)] = published
    assert topic == topics.topic("g1", "bar1", "alert")
    assert msgspec.json.decode(payload, type=AlertMessage) == alert


def test_the_cooldown_holds_across_two_processes_and_redelivery(influxdb: LocalInfluxDB) -> None:
    settings = AlertSettings(rules=[VelocityLossRule(threshold_pct=20)], cooldown_s=120)
    first, first_reader, _ = server_process(influxdb, settings)
    second, second_reader, _ = server_process(influxdb, settings)
    slow = [rep(i, velocity_loss_pct=22.0 + i) for i in range(6)]

    assert len(first.consider(slow[0], REP_TOPIC)) == 1
    assert second.consider(slow[1], REP_TOPIC) == []  # the other process raised it 4 s before
    assert second.consider(slow[0], REP_TOPIC) == []  # a redelivery after the first crashed
    asked = first_reader.queries
    assert first.consider(slow[2], REP_TOPIC) == []
    assert first_reader.queries == asked  # its own recent alert: no query

    later = rep(0, t=1000 + 121, velocity_loss_pct=30.0)  # 121 s after the first alert
    assert len(second.consider(later, REP_TOPIC)) == 1
    # Three checks, and the one alert it raised read back: the first written goes out.
    assert second_reader.queries == 4
    assert len(rows(influxdb, 'SELECT * FROM "alert"')) == 2
    other = rep(1, athlete="ben", velocity_loss_pct=30.0)  # another athlete: a key of its own
    assert len(first.consider(other, REP_TOPIC)) == 1


def test_two_processes_raising_one_alert_at_once_let_it_out_once(influxdb: LocalInfluxDB) -> None:
    """Two reps past the threshold reach two processes within milliseconds: both pass the
    cooldown check before either has written (forced here: each check waits for the other's).
    Read back once written, only the first written goes out."""
    settings = AlertSettings(rules=[VelocityLossRule(threshold_pct=20)], cooldown_s=120)
    both_checked = threading.Barrier(2)

    class CheckingAtOnce(CountingReader):
        def query(self, influxql: str) -> list[dict[str, Any]]:
            answer = super().query(influxql)
            if self.queries == 1:  # the cooldown check, answered before either writes
                both_checked.wait(10)
            return answer

    published: list[list[AlertMessage]] = [[], []]
    processes = [
        Alerts(settings, CheckingAtOnce(influxdb), V1Writer(InfluxSettings(url=influxdb.url)).write,
               lambda topic, payload, n=n: published[n].append(
                   msgspec.json.decode(payload, type=AlertMessage)))
        for n in range(2)
    ]  # fmt: skip
    threads = [
        threading.Thread(target=p.consider, args=(rep(i, velocity_loss_pct=25.0), REP_TOPIC))
        for i, p in enumerate(processes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(len(p) for p in published) == [0, 1]
    assert len(rows(influxdb, 'SELECT * FROM "alert"')) == 2  # both stored: a count may say 2


def test_a_retained_offline_status_seen_again_raises_no_second_alert(
    influxdb: LocalInfluxDB,
) -> None:
    offline = StatusMessage(state="offline", version="0.1.0", since=5000.0)
    status_topic = topics.topic("g1", "bar3", "status")
    first, _, _ = server_process(influxdb)
    assert len(first.consider(offline, status_topic)) == 1
    restarted, _, _ = server_process(influxdb)  # a new process gets the retained status
    assert restarted.consider(offline, status_topic) == []
    [point] = rows(influxdb, 'SELECT * FROM "alert" GROUP BY *')
    assert "athlete" not in point or point["athlete"] == ""


def test_a_failed_alert_write_publishes_nothing_and_a_retry_raises_it_once(
    influxdb: LocalInfluxDB,
) -> None:
    published: list[tuple[str, bytes]] = []
    reader = InfluxReader(InfluxSettings(url=influxdb.url))
    nowhere = V1Writer(InfluxSettings(url=f"http://127.0.0.1:{free_port()}"), timeout_s=1)
    args = (reader, nowhere.write, lambda t, p: published.append((t, p)))
    trigger = rep(0, velocity_loss_pct=40.0)
    with pytest.raises(WriteError):
        Alerts(AlertSettings(), *args).consider(trigger, REP_TOPIC)
    assert published == []
    retrying = Alerts(
        AlertSettings(), reader, V1Writer(InfluxSettings(url=influxdb.url)).write, args[2]
    )
    assert len(retrying.consider(trigger, REP_TOPIC)) == 1
    assert retrying.consider(trigger, REP_TOPIC) == []
    assert len(published) == 1


def test_alerts_reach_a_coach_on_the_alert_topic(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    coach = Listener(mosquitto.url, "t-coach", f"{topics.ROOT}/+/+/alert")
    client = make_client(MqttSettings(url=mosquitto.url), "t-server")
    connect(client, MqttSettings(url=mosquitto.url), clean_start=True)
    try:
        wait_for(client.is_connected, what="the server's client")
        alerts = Alerts(
            AlertSettings(),
            InfluxReader(InfluxSettings(url=influxdb.url)),
            V1Writer(InfluxSettings(url=influxdb.url)).write,
            lambda topic, payload: client.publish(topic, payload, qos=1, retain=False),
        )
        raised = alerts.consider(rep(0, velocity_loss_pct=35.0), REP_TOPIC)
        wait_for(lambda: len(coach.messages) == 1, what="the alert")
        assert coach.messages == raised
    finally:
        coach.close()
        client.disconnect()
        client.loop_stop()


# Delivery through apprise


class Mailbox:
    """aiosmtpd's handler: keeps each message's envelope."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.mails.append((envelope.mail_from, envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, str]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    url = f"mailto://127.0.0.1:{port}?from=barbell@gym.example&to=coach@gym.example&mode=insecure"
    yield mailbox, url
    controller.stop()


def test_alerts_arrive_at_a_webhook_and_by_e_mail_through_apprise(
    influxdb: LocalInfluxDB, webhook: Webhook, smtp: tuple[Mailbox, str]
) -> None:
    mailbox, mail_url = smtp
    settings = AlertSettings(urls=[webhook.url, mail_url])
    alerts, _, _ = server_process(influxdb, settings)
    streak = rep(2, faults=[Fault("momentum", "warn", 2.1, 1.92)], fault_streaks={"momentum": 3})
    [alert] = alerts.consider(streak, REP_TOPIC)
    wait_for(lambda: webhook.bodies and mailbox.mails, timeout_s=10, what="both deliveries")
    alerts.close()
    [body] = webhook.bodies
    assert (body["message"], body["type"]) == (alert.message, "warning")
    assert "bar1 at g1" in body["title"]
    [(sender, to, mail)] = mailbox.mails
    assert (sender, to) == ("barbell@gym.example", ["coach@gym.example"])
    assert "ana: momentum on 3 reps in a row" in mail


def test_a_dead_or_slow_notifier_does_not_hold_up_the_ingest(
    influxdb: LocalInfluxDB, webhook: Webhook
) -> None:
    slow = Webhook(delay_s=1.0)
    dead = f"json://127.0.0.1:{free_port()}/alerts"  # nothing listens there
    alerts, _, published = server_process(
        influxdb, AlertSettings(urls=[dead, slow.url, webhook.url], cooldown_s=0)
    )
    try:
        took = []
        for i in range(3):
            start = time.perf_counter()
            alerts.consider(rep(i, velocity_loss_pct=40.0), REP_TOPIC)
            took.append(time.perf_counter() - start)
        assert len(published) == 3
        assert max(took) < 0.5, took  # a synchronous send would wait 1 s for the slow one
        wait_for(lambda: len(webhook.bodies) == 3, timeout_s=15, what="the live notifier")
    finally:
        alerts.close(timeout_s=1)
        slow.close()


def test_pushes_a_process_still_owed_are_sent_when_it_is_back(
    influxdb: LocalInfluxDB, webhook: Webhook
) -> None:
    """The notifiers' queue is in memory: a process killed with pushes queued, or whose
    notifiers failed, sends what it owed when it is back, under the same name, and only that."""
    settings = AlertSettings(urls=[webhook.url], cooldown_s=0)
    first, _, _ = server_process(influxdb, settings, name="t-server-1")
    other, _, _ = server_process(influxdb, settings, name="t-server-2")
    lately = time.time() - 60
    try:
        for i in range(2):
            first.consider(rep(i, lately, velocity_loss_pct=40.0), REP_TOPIC)
        wait_for(lambda: len(webhook.bodies) == 2, what="the first pushes")
        webhook.failing = True  # the next three never go out; another process owes one too
        for i in range(2, 5):
            first.consider(rep(i, lately, velocity_loss_pct=40.0), REP_TOPIC)
        other.consider(rep(9, lately, velocity_loss_pct=40.0), REP_TOPIC)
        wait_for(lambda: webhook.refused == 4, what="the failed pushes")
    finally:
        first.close(timeout_s=1)
        other.close(timeout_s=1)
    webhook.failing = False
    back, _, _ = server_process(influxdb, settings, name="t-server-1")
    try:
        assert back.push_what_is_owed() == 3
        wait_for(lambda: len(webhook.bodies) == 5, what="the owed pushes")
        wait_for(lambda: owed(influxdb, "t-server-1") == 0, what="each marked pushed once sent")
    finally:
        back.close()
    assert owed(influxdb, "t-server-2") == 1  # for it to send when it is back
    assert len(webhook.bodies) == 5


def owed(influx: LocalInfluxDB, pusher: str) -> int:
    """Alerts stored for `pusher` to push and not yet pushed."""
    query = f'SELECT "message" FROM "alert" WHERE "pushed" = false AND "pusher" = \'{pusher}\''
    return len(rows(influx, query))


def test_a_failing_notifier_is_logged_once_and_so_is_its_recovery(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.notify")
    notifier = Notifier([webhook.url])
    alert = AlertMessage(
        rule="r", severity="warn", athlete="", message="m", gym="g", station="s", t=1.0
    )
    webhook.failing = True
    for _ in range(3):
        notifier.submit(alert)
    wait_for(lambda: notifier.failed == 3, what="three failures")
    webhook.failing = False
    for _ in range(2):
        notifier.submit(alert)
    notifier.close()
    assert (notifier.sent, len(webhook.bodies)) == (2, 2)
    ours = [r for r in caplog.records if r.name == "server.notify"]
    assert [r.levelname for r in ours] == ["WARNING", "INFO"]


def test_an_unknown_notifier_url_is_a_config_error_that_hides_the_url() -> None:
    with pytest.raises(ConfigError, match="URL 2 of 2") as error:
        Notifier(["json://127.0.0.1:9/", "nosuchscheme://user:s3cret@host"])
    assert "s3cret" not in str(error.value)
