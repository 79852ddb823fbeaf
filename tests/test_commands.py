"""Commands to a station: applied between drains, refused in one clear line when bad."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from barbell.services import LocalMosquitto
from contract.config import MqttSettings
from contract.errors import InputError
from contract.messages import CommandMessage, RepMessage, SetMessage, encode
from edge.button import StationButton
from edge.config import (
    EdgeConfig,
    SensorSettings,
    SimSettings,
    StateSettings,
    StationSettings,
)
from edge.daemon import run_edge
from edge.outbox import Outbox
from edge.publisher import Publisher
from edge.sources import sim_spec
from edge.station import Station
from hardware.simulate import simulate
from tests.helpers import Listener, wait_for


def feed_all(station: Station, config: EdgeConfig, stop_at_s: float | None = None) -> list:
    messages = []
    for chunk in simulate(sim_spec(config)).recording.split(50):
        if stop_at_s is not None and chunk.t[0] >= stop_at_s:
            break
        messages += station.messages(station.feed(chunk))
    return messages


def test_commands_change_who_what_and_how_much_without_reusing_a_msg_id() -> None:
    config = EdgeConfig(sim=SimSettings(lift="hip_thrust", reps=4, seed=71, athlete="ana"))
    station = Station(config)
    first = feed_all(station, config)
    closed = station.apply(CommandMessage(action="end_set"))
    assert [type(m) for m in closed] == [SetMessage]
    station.apply(CommandMessage(action="set_load", load_kg=120.0))
    assert station.session.info.load_kg == 120.0
    session = station.session.info.session_id
    station.apply(CommandMessage(action="set_athlete", athlete="bo"))
    assert station.session.info.athlete == "bo" and station.session.info.session_id != session
    second = feed_all(station, config)
    reps = [m for m in first + second if isinstance(m, RepMessage)]
    assert {m.athlete for m in reps} == {"ana", "bo"}
    ids = [m.msg_id for m in first + closed + second]
    assert len(ids) == len(set(ids))


def test_a_seeded_reference_judges_the_next_rep_at_once() -> None:
    config = EdgeConfig(sim=SimSettings(lift="hip_thrust", reps=3, seed=72))
    station = Station(config)
    station.apply(CommandMessage(action="seed_reference", rom_m=0.3, drift_ap_m=0.03))
    reps = [m for m in feed_all(station, config) if isinstance(m, RepMessage)]
    assert reps and reps[0].unjudged == []


def refusals(listener: Listener) -> list[str]:
    return [h.sensor_error for h in listener.health if h.sensor_error]


def test_bad_commands_are_refused_in_one_line_and_the_station_carries_on(
    mosquitto: LocalMosquitto, tmp_path: Path
) -> None:
    settings = MqttSettings(url=mosquitto.url)
    coach = Listener(mosquitto.url, "t-coach", "barbell/v1/g1/bar4/health")
    config = EdgeConfig(
        mqtt=settings,
        station=StationSettings(gym="g1", id="bar4"),
        sim=SimSettings(lift="glute_bridge", reps=3, seed=73, athlete="ana"),  # in real time
        state=StateSettings(dir=tmp_path),
    )
    reps: list[RepMessage] = []
    daemon = threading.Thread(
        target=run_edge,
        args=(config, threading.Event()),
        kwargs={"on_message": lambda m: reps.append(m) if isinstance(m, RepMessage) else None},
    )
    daemon.start()
    bad = [
        b"not json",
        b'{"schema": "barbell.cmd/1", "action": "launch"}',
        b'{"schema": "barbell.cmd/1", "action": "set_load"}',
        encode(CommandMessage(action="end_set")).replace(b"cmd/1", b"cmd/9"),
        b'{"schema": "barbell.cmd/1", "action": "set_athlete", "athlete": "ana\\tlee"}',
    ]
    try:
        wait_for(lambda: len(reps) >= 1, timeout_s=30, what="the first rep")
        for payload in bad:
            coach.client.publish("barbell/v1/g1/bar4/cmd", payload, qos=1).wait_for_publish(5)
        wait_for(lambda: len(refusals(coach)) == len(bad), what="every refusal")
        daemon.join(60)
    finally:
        coach.close()
    assert not daemon.is_alive()
    health = refusals(coach)
    assert all(text.startswith("command refused: ") and "\n" not in text for text in health)
    assert "set_load needs load_kg" in health[2]
    assert "athlete" in health[4]  # a tab in a name: InfluxDB could not give it back
    truth = simulate(sim_spec(config)).truth.reps
    assert len(reps) == len(truth)  # every rep of the set, bad commands or not


def test_a_retained_command_is_not_run_at_every_reconnect(
    mosquitto: LocalMosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A coach's app that retains a `tare` by mistake must not zero loaded cells whenever the
    station's Wi-Fi comes back."""
    settings = MqttSettings(url=mosquitto.url)
    coach = Listener(mosquitto.url, "t-coach-retained", "barbell/v1/g1/bar6/health")
    command_topic = "barbell/v1/g1/bar6/cmd"
    tare, start_set = (
        encode(CommandMessage(action="tare")),
        encode(CommandMessage(action="start_set")),
    )
    coach.client.publish(command_topic, tare, qos=1, retain=True).wait_for_publish(5)
    heard: list[bytes] = []
    outbox = Outbox(tmp_path / "outbox.sqlite")
    station = Publisher(settings, "g1", "bar6", outbox, on_command=heard.append)
    try:
        station.start()
        wait_for(lambda: "ignoring a retained command" in caplog.text, what="the retained tare")
        coach.client.publish(command_topic, start_set, qos=1).wait_for_publish(5)
        wait_for(lambda: len(heard) == 1, what="the live command")
    finally:  # the broker is this test's own: its retained tare goes with it
        station.stop()
        outbox.close()
        coach.close()
    assert heard == [start_set]


def test_health_reports_rate_drops_and_outbox_depth(
    mosquitto: LocalMosquitto, tmp_path: Path
) -> None:
    coach = Listener(mosquitto.url, "t-health-rate", "barbell/v1/g1/bar5/health")
    config = EdgeConfig(
        mqtt=MqttSettings(url=mosquitto.url),
        station=StationSettings(gym="g1", id="bar5", health_period_s=1.0),
        sim=SimSettings(lift="squat", reps=1, seed=74, events=["gone:3:0.4"]),  # in real time
        state=StateSettings(dir=tmp_path),
    )
    try:
        run_edge(config, threading.Event())
        wait_for(lambda: len(coach.health) >= 4, what="health reports")
    finally:
        coach.close()
    periodic = [h for h in coach.health if h.sample_rate_hz is not None]
    assert all(800 <= h.sample_rate_hz <= 1100 for h in periodic[1:-1] if h.dropped_samples == 0)
    assert sum(h.dropped_samples or 0 for h in periodic) == pytest.approx(
        400, abs=30
    )  # the 0.4 s gap
    assert all(h.outbox_depth is not None and h.outbox_depth >= 0 for h in periodic)


def test_the_load_is_read_from_the_cells_at_rest_not_typed() -> None:
    config = EdgeConfig(sim=SimSettings(lift="squat", reps=3, seed=75, load_kg=117.5))
    typed_wrong = EdgeConfig(sim=SimSettings(lift="squat", reps=3, seed=75, load_kg=60.0))
    station = Station(typed_wrong)  # somebody typed 60 kg
    reps = []
    for chunk in simulate(sim_spec(config)).recording.split(50):  # 117.5 kg on the bar
        reps += [m for m in station.messages(station.feed(chunk)) if isinstance(m, RepMessage)]
    assert len(reps) == 3
    assert {rep.load_kg for rep in reps} == {117.5}


def test_a_stopped_session_counts_nothing_until_the_next_one_starts() -> None:
    config = EdgeConfig(sim=SimSettings(lift="rdl", sets=3, reps=3, seed=76, athlete="ana"))
    simulation = simulate(sim_spec(config))
    by_set = {i: [r for r in simulation.truth.reps if r.set_index == i] for i in range(3)}
    stop_at = by_set[0][-1].t_end + 1.0  # resting after the first set
    start_at = by_set[2][0].t_start - 3.0  # before the third set
    station = Station(config)
    messages, stopped = [], False
    for chunk in simulation.recording.split(50):
        if chunk.t[0] >= stop_at and not stopped:
            messages += station.apply(CommandMessage(action="stop_session"))
            stopped = True
        if chunk.t[0] >= start_at and not station.active:
            messages += station.apply(
                CommandMessage(action="start_session", athlete="bo", load_kg=80.0)
            )
        messages += station.messages(station.feed(chunk))
    reps = [m for m in messages if isinstance(m, RepMessage)]
    # The first set counted for ana; the second, lifted while stopped, not at all; the third
    # for bo, in a new session.
    assert [r.athlete for r in reps] == ["ana"] * 3 + ["bo"] * 3
    assert [r.rep_index for r in reps] == [0, 1, 2] * 2
    assert len({r.session_id for r in reps}) == 2
    epoch = station.session.info.epoch_offset_s  # live stations send UTC times
    for rep, truth in zip(reps, by_set[0] + by_set[2], strict=True):
        assert abs(rep.t_concentric_end - epoch - truth.t_concentric_end) < 0.1


def test_a_real_bar_stamps_its_reps_by_the_wall_clock_whatever_its_imu_clock_says(
    tmp_path: Path,
) -> None:
    """Twenty seconds of lifting, fed at once: to the station it is an IMU whose clock runs
    far ahead of the wall clock (a real one's oscillator may be a percent off, minutes a day).
    Its reps must still carry UTC as it is now, not the IMU's drifting idea of it."""
    config = EdgeConfig(
        sensor=SensorSettings(kind="i2c"),
        sim=SimSettings(lift="squat", reps=4, seed=71),
        state=StateSettings(dir=tmp_path),
    )
    station = Station(config)
    stamped: list[tuple[float, float]] = []  # (rep's end, wall clock when it was made)
    reps: list[RepMessage] = []
    for chunk in simulate(sim_spec(config)).recording.split(50):
        for message in station.messages(station.feed(chunk)):
            if isinstance(message, RepMessage):
                stamped.append((message.t_end, time.time()))
                reps.append(message)
    [done] = [m for m in station.messages(station.analysis.finish()) if isinstance(m, SetMessage)]
    assert len(stamped) == 4
    assert all(abs(t_end - now) < 1.5 for t_end, now in stamped)
    # The clock moved under the set, but a set's times still cover its own reps' (the server
    # finds a set's reps by them).
    assert done.t_start <= reps[0].t_start
    assert done.t_end >= max(rep.t_concentric_end for rep in reps)


def test_tare_zeroes_the_resting_cells_and_survives_a_restart(tmp_path: Path) -> None:
    config = EdgeConfig(
        sim=SimSettings(lift="squat", reps=1, seed=77, load_kg=100.0),
        state=StateSettings(dir=tmp_path),
    )
    chunks = list(simulate(sim_spec(config)).recording.split(50))
    station = Station(config)
    station.feed(chunks[0])
    with pytest.raises(InputError, match="tare refused: the bar must rest"):
        station.apply(CommandMessage(action="tare"))  # not rested long enough yet
    fed = 1
    while station.analysis.resting_force_n is None:
        station.feed(chunks[fed])
        fed += 1
    assert station.session.info.load_kg == 100.0  # plates and bar, as the cells read them
    station.apply(CommandMessage(action="tare"))
    # Both cells' zero is now what they carried: the whole 100 kg, split by side.
    assert sum(station.tare.offset_n) == pytest.approx(100.0 * 9.80665, rel=0.01)
    for chunk in chunks[fed : fed + 20]:  # a second of rest on the zeroed cells
        station.feed(chunk)
    assert station.session.info.load_kg is None
    restarted = Station(config)
    assert restarted.tare.offset_n == pytest.approx(station.tare.offset_n)


def test_a_real_bar_carries_on_after_a_restart_and_starts_out_unnamed(tmp_path: Path) -> None:
    """A power blip must not turn Ana's RDLs into another lifter's hip thrusts, nor start a
    stopped station counting."""
    config = EdgeConfig(sensor=SensorSettings(kind="i2c"), state=StateSettings(dir=tmp_path))
    bar = Station(config)  # no chip is opened: that is the source's job
    info = bar.session.info
    assert (info.athlete, info.lift, info.load_kg, bar.active) == ("", "auto", None, True)
    bar.apply(CommandMessage(action="start_session", athlete="ana", lift="rdl", load_kg=80.0))
    bar.apply(CommandMessage(action="stop_session"))

    restarted = Station(config)
    info = restarted.session.info
    assert (info.athlete, info.lift, info.load_kg, restarted.active) == ("ana", "rdl", 80.0, False)
    assert info.session_id != bar.session.info.session_id  # no msg_id of before comes again
    # A simulated bar lifts what [sim] says, whatever a real one left in the state dir.
    simulated = Station(EdgeConfig(state=StateSettings(dir=tmp_path)))
    assert simulated.session.info.athlete == SimSettings().athlete


def test_the_button_starts_a_new_set_on_a_press_and_tares_on_a_hold(
    mock_pins: MockFactory,
) -> None:
    heard: list[str] = []
    button = StationButton(22, hold_s=0.2, command=lambda c: heard.append(c.action))
    pin = mock_pins.pin(22)
    try:
        pin.drive_low()  # pressed: the button pulls the pin to ground
        pin.drive_high()
        wait_for(lambda: heard == ["start_set"], timeout_s=2, what="a press")
        pin.drive_low()
        time.sleep(0.4)  # held past hold_s
        pin.drive_high()
        wait_for(lambda: heard == ["start_set", "tare"], timeout_s=2, what="a hold")
        time.sleep(0.1)
        assert heard == ["start_set", "tare"]  # letting go of a hold is not a press too
    finally:
        button.close()


def test_each_rep_carries_its_fault_streaks_within_the_set() -> None:
    config = EdgeConfig(
        sim=SimSettings(lift="hip_thrust", sets=2, reps=5, seed=78, faults=["bar_tilt:1@1,2,4"])
    )
    truth = simulate(sim_spec(config)).truth.reps
    reps = [m for m in feed_all(Station(config), config) if isinstance(m, RepMessage)]
    assert len(reps) == len(truth) == 10
    streak, expected = 0, []
    for i, t in enumerate(truth):  # the labels' own streaks, restarting with each set
        first_of_set = i == 0 or truth[i - 1].set_index != t.set_index
        streak = ("bar_tilt" in t.faults) * (1 if first_of_set else streak + 1)
        expected.append(streak)
    assert expected == [1, 2, 0, 1, 0] * 2  # the spec counts reps from 1
    assert [r.fault_streaks.get("bar_tilt", 0) for r in reps] == expected


def test_each_set_of_a_warm_up_ramp_carries_the_load_the_cells_weighed() -> None:
    ramp = [60.0, 80.0, 100.0]
    config = EdgeConfig(
        sim=SimSettings(lift="hip_thrust", sets=3, reps=3, seed=79, set_loads_kg=ramp)
    )
    station = Station(EdgeConfig(sim=SimSettings(lift="hip_thrust", load_kg=20.0)))
    messages = feed_all(station, config) + station.messages(station.analysis.finish())
    sets = [m for m in messages if isinstance(m, SetMessage)]
    assert [s.load_kg for s in sets] == ramp
    for rep in (m for m in messages if isinstance(m, RepMessage)):
        assert rep.load_kg == ramp[rep.set_index]
