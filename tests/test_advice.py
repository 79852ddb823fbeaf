"""Next-load advice: the profile and e1RM against the simulator's true 1RM, plate rounding,
holding back on form faults, too little history, and the Advisor on a real InfluxDB.

Accuracy over many athletes is bench/advice.py's; these are small fixed cases.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from barbell.services import LocalInfluxDB
from contract.config import load
from contract.errors import ConfigError
from contract.messages import AdviceMessage, RepMessage, SetMessage, Severity, decode
from contract.topics import topic
from server.advice import (
    KG_PER_LB,
    AdviceSettings,
    Advisor,
    RepRecord,
    advise_from,
    e1rm,
    hold_back,
    next_load,
    profile,
    round_down,
    set_points,
)
from server.alerting import Alerts
from server.alerts import AlertSettings
from server.config import InfluxSettings
from server.influx import InfluxReader, V1Writer
from server.points import advice_point, fault_points, line, lines_for, rep_line
from server.reactions import Reactions
from tests.helpers import rows, simulated_session, wait_for

DAY_S = 86_400.0
NOW_S = 1_750_000_000.0
# An athlete 6 % faster than the population profile (one standard deviation in the simulator)
# has a v1RM 6 % higher too, which the advice cannot know; that and a few sets' noise keep e1RM
# within 5 % (bench/advice.py has the spread over many athletes).
E1RM_TOLERANCE = 0.05
# Sets through the edge stay under 85 % 1RM: above it the edge currently flags `momentum` on
# over half of the simulator's clean reps (its sticking-point concentric), which would drop them.


def _records(messages: list[RepMessage | SetMessage]) -> list[RepRecord]:
    return [RepRecord.of(m) for m in messages if isinstance(m, RepMessage)]


def _last_set(messages: list[RepMessage | SetMessage]) -> SetMessage:
    return [m for m in messages if isinstance(m, SetMessage)][-1]


@pytest.mark.parametrize(
    "lift, one_rm_kg, scale, seed",
    [("squat", 150.0, 1.0, 101), ("bench", 95.0, 1.06, 102), ("hip_thrust", 180.0, 0.94, 103)],
)
def test_e1rm_from_simulated_sets_is_near_the_true_1rm(
    lift: str, one_rm_kg: float, scale: float, seed: int
) -> None:
    loads = [round(one_rm_kg * f, 1) for f in (0.45, 0.6, 0.7, 0.8)]
    messages = simulated_session(
        lift, one_rm_kg, loads, "s1", NOW_S, seed=seed, velocity_scale=scale
    )
    settings = AdviceSettings()
    fitted = profile(set_points(_records(messages), settings))
    assert fitted is not None and fitted.loads == 4
    assert fitted.r2 > 0.9
    estimate = e1rm(fitted, settings.v1rm_for(lift))
    assert estimate == pytest.approx(one_rm_kg, rel=E1RM_TOLERANCE)


def test_one_odd_set_does_not_move_the_profile() -> None:
    true = [(60.0, 1.0), (80.0, 0.8), (100.0, 0.6), (120.0, 0.4)]
    odd = [*true, (100.0, 0.61), (100.0, 1.5)]  # a mis-entered load among repeats
    for points in (true, odd, [*true, (140.0, 0.9)]):
        fitted = profile(points)
        assert fitted is not None
        assert e1rm(fitted, 0.3) == pytest.approx(130.0, abs=1.0)


steps = st.sampled_from([("kg", 1.25), ("kg", 2.5), ("lb", 2.5), ("lb", 5.0)])


@given(steps, st.floats(1.0, 500.0))
def test_rounding_is_in_whole_plate_steps_never_above_the_target(
    unit_step: tuple[str, float], target_kg: float
) -> None:
    units, step = unit_step
    step_kg = AdviceSettings(units=units, step=step).step_kg  # type: ignore[arg-type]
    rounded = round_down(target_kg, step_kg)
    steps_taken = rounded / step_kg
    assert steps_taken == pytest.approx(round(steps_taken), abs=1e-6)
    assert target_kg - step_kg < rounded <= target_kg + 1e-6


def test_pounds_stay_whole_pounds() -> None:
    settings = AdviceSettings(units="lb", step=5.0)
    assert round_down(225 * KG_PER_LB, settings.step_kg) / KG_PER_LB == pytest.approx(225)
    assert settings.in_units(225 * KG_PER_LB) == "225 lb"


def test_a_held_load_is_the_plates_on_the_bar_not_the_load_cells_reading() -> None:
    """225 lb weighs in at 102.0 kg (224.9 lb): held back, it stays 225 lb, not 220."""
    weighed = [(135, 61.0, 1.0), (185, 84.0, 0.85), (225, 102.0, 0.7)]  # lb, kg read, m/s
    history = [
        RepRecord(f"m{i}", "today", i, NOW_S + i, kg, velocity)
        for i, (_, kg, velocity) in enumerate(weighed)
    ]
    history.append(
        RepRecord("tilted", "today", 2, NOW_S + 3, 102.0, 0.68, (("bar_tilt", "critical"),))
    )
    settings = AdviceSettings(units="lb", step=5.0)
    held = advise_from(_set("today", NOW_S + 9, set_index=2, reps=2), history, settings)
    assert held.held_back and held.next_load_kg is not None
    assert held.next_load_kg / KG_PER_LB == pytest.approx(225)
    assert "held back to 225 lb" in held.reason


@given(st.floats(20.0, 400.0), st.floats(20.0, 300.0), st.booleans())
def test_next_load_never_jumps_nor_rises_when_held(
    target_kg: float, last_kg: float, held: bool
) -> None:
    settings = AdviceSettings()
    chosen = next_load(target_kg, last_kg, settings, held)
    assert chosen <= target_kg + 1e-6
    assert chosen <= (last_kg if held else last_kg * 1.1) + 1e-6


def _rep(i: int, faults: tuple[tuple[str, Severity], ...] = ()) -> RepRecord:
    return RepRecord(f"m{i}", "today", i // 5, NOW_S + i, 100.0, 0.5, faults)


@pytest.mark.parametrize(
    "faulted, held",
    [
        ({0: (("bar_tilt", "critical"),)}, "critical bar_tilt"),
        ({0: (("bar_tilt", "warn"),), 3: (("momentum", "warn"),), 7: (("bar_tilt", "warn"),)},
         "form faults on 3 of 10 reps last session (bar_tilt ×2, momentum ×1)"),
        ({0: (("bar_tilt", "warn"),), 3: (("bar_tilt", "warn"),)}, None),  # 20 %, not over it
        ({i: (("velocity_loss", "critical"), ("grinding", "warn")) for i in range(10)}, None),
    ],
)  # fmt: skip
def test_form_faults_last_session_hold_the_load(
    faulted: dict[int, tuple[tuple[str, Severity], ...]], held: str | None
) -> None:
    session = [_rep(i, faulted.get(i, ())) for i in range(10)]
    reason = hold_back(session, AdviceSettings())
    assert reason == held if held is None else held in (reason or "")


def _set(session_id: str, t_end: float, set_index: int = 0, reps: int = 1) -> SetMessage:
    """A set at 100 kg whose reps are in the history the test gives."""
    return SetMessage(
        msg_id=f"g1/bar1/{session_id}/s{set_index}/set",
        gym="g1",
        station="bar1",
        session_id=session_id,
        lift="squat",
        athlete="ana",
        load_kg=100.0,
        set_index=set_index,
        reps=reps,
        t_start=t_end - 20,
        t_end=t_end,
    )


def test_too_little_history_says_what_is_missing() -> None:
    history = [RepRecord(f"m{i}", "today", 0, NOW_S, 100.0, 0.6) for i in range(3)]
    advice = advise_from(_set("today", NOW_S), history, AdviceSettings())
    assert advice.next_load_kg is None and advice.e1rm_kg is None
    assert advice.reason == "need sets at 2 more loads"
    assert advice.last_load_kg == 100.0

    close = [
        RepRecord(f"m{i}", "today", i, NOW_S, 100.0 + 2.5 * i, 0.6 - 0.01 * i) for i in range(3)
    ]
    advice = advise_from(_set("today", NOW_S), close, AdviceSettings())
    assert advice.next_load_kg is None
    assert "need loads further apart" in advice.reason


def test_faults_hold_the_advice_at_the_last_load() -> None:
    history = [
        RepRecord(f"m{i}", "today", i, NOW_S + i, load, velocity, faults)
        for i, (load, velocity, faults) in enumerate(
            [(60.0, 1.0, ()), (80.0, 0.85, ()), (100.0, 0.7, (("momentum", "critical"),)),
             (100.0, 0.7, ())]
        )
    ]  # fmt: skip
    done = _set("today", NOW_S + 9, set_index=3)
    clean = advise_from(done, history[:2] + history[3:], AdviceSettings())
    held = advise_from(done, history, AdviceSettings())
    # v = 1.45 − 0.0075 × load reaches the squat's 0.32 m/s at 150.7 kg; 80 % of it is 120.5 kg,
    # capped at 10 % over the 100 kg lifted today: 110 kg, or 100 kg when held.
    assert clean.e1rm_kg == pytest.approx(150.67, abs=0.01)
    assert (clean.next_load_kg, clean.held_back) == (110.0, False)
    assert "capped at +10 % of 100 kg" in clean.reason
    assert held.held_back and held.next_load_kg == 100.0
    assert "critical momentum" in held.reason


def test_settings_come_from_the_environment_and_bad_ones_are_refused(tmp_path: Path) -> None:
    class Config(msgspec.Struct, kw_only=True):
        advice: AdviceSettings = msgspec.field(default_factory=AdviceSettings)

    got = load(Config, environ={"BARBELL_ADVICE_UNITS": "lb", "BARBELL_ADVICE_STEP": "5"})
    assert got.advice.step_kg == pytest.approx(5 * KG_PER_LB)
    toml = tmp_path / "server.toml"
    toml.write_text("[advice]\nv1rm_mps = { squat = 0.3 }\ntarget_velocity_mps = { bench = 0.5 }\n")
    assert load(Config, toml).advice.v1rm_for("squat") == 0.3
    for bad in ({"BARBELL_ADVICE_STEP": "0"}, {"BARBELL_ADVICE_UNITS": "stone"}):
        with pytest.raises(ConfigError):
            load(Config, environ=bad)
    toml.write_text("[advice]\nv1rm_mps = { curl = 0.3 }\n")
    with pytest.raises(ConfigError, match="curl"):
        load(Config, toml)


def _store(writer: V1Writer, messages: list[RepMessage | SetMessage]) -> None:
    writer.write([text for m in messages for text in lines_for(m)])


def test_advisor_reads_the_athletes_own_recent_history(influxdb: LocalInfluxDB) -> None:
    settings = InfluxSettings(url=influxdb.url, database=influxdb.database)
    writer = V1Writer(settings)
    one_rm = 140.0
    week_ago = simulated_session("squat", one_rm, [70, 91], "mon", NOW_S - 7 * DAY_S, seed=201)
    today = simulated_session("squat", one_rm, [77.5, 97.5, 112.5], "thu", NOW_S, seed=202)
    # Not this athlete's squat: another lifter, another lift, another gym, and too long ago.
    others = [
        *simulated_session("squat", 260, [130, 200], "x1", NOW_S - DAY_S, athlete="bo", seed=203),
        *simulated_session("deadlift", 260, [130, 200], "x2", NOW_S - DAY_S, seed=204),
        *simulated_session("squat", 90, [45, 70], "x3", NOW_S - DAY_S, gym="g2", seed=205),
        *simulated_session("squat", 90, [45, 70], "x4", NOW_S - 60 * DAY_S, seed=206),
    ]
    for messages in (week_ago, today, others):
        _store(writer, messages)

    done = _last_set(today)
    advisor = Advisor(AdviceSettings(), InfluxReader(settings))
    advice = advisor.advise(done)

    assert (advice.gym, advice.station, advice.athlete, advice.lift) == (
        "g1",
        "bar1",
        "ana",
        "squat",
    )
    assert advice.t == done.t_end and advice.last_load_kg == 112.5
    assert advice.e1rm_kg == pytest.approx(one_rm, rel=E1RM_TOLERANCE)
    assert "from 5 loads over 2 sessions" in advice.reason
    assert advice.next_load_kg is not None and not advice.held_back
    assert advice.next_load_kg / 2.5 == pytest.approx(round(advice.next_load_kg / 2.5))
    assert advice.next_load_kg <= 0.8 * advice.e1rm_kg
    assert advisor.advise(done) == advice  # a pure function of what is stored

    # Stored with the set's end as its time: the same set again rewrites it.
    for _ in range(2):
        writer.write([line(advice_point(advisor.advise(done)))])
    stored = rows(influxdb, 'SELECT * FROM "advice" GROUP BY *')
    assert len(stored) == 1
    assert stored[0]["next_load_kg"] == advice.next_load_kg
    assert stored[0]["held_back"] is False and stored[0]["athlete"] == "ana"


class Tilted(NamedTuple):
    """Monday's and Thursday's bench, the last set, and its one rep that tilts critically."""

    sessions: list[RepMessage | SetMessage]
    done: SetMessage
    rep: RepMessage

    def without_the_rep_and_set(self) -> list[RepMessage | SetMessage]:
        return [m for m in self.sessions if m not in (self.rep, self.done)]


def _bench_sessions_ending_in_a_tilt() -> Tilted:
    monday = simulated_session("bench", 100, [50, 70, 80], "mon", NOW_S - 3 * DAY_S, seed=301)
    today = simulated_session("bench", 100, [55, 75], "thu", NOW_S, seed=302)
    top = simulated_session(
        "bench", 100, [82], "thu", NOW_S + 2 * 300, seed=303, faults=("bar_tilt:1@2",)
    )
    top = [msgspec.structs.replace(m, set_index=2, msg_id=m.msg_id.replace("/s0/", "/s2/"))
           for m in top]  # fmt: skip
    [tilted] = [m for m in top if isinstance(m, RepMessage) and m.faults]
    assert [f.severity for f in tilted.faults] == ["critical"]
    return Tilted(monday + today + top, _last_set(top), tilted)


def test_advisor_holds_back_after_a_session_with_critical_faults(influxdb: LocalInfluxDB) -> None:
    settings = InfluxSettings(url=influxdb.url, database=influxdb.database)
    bench = _bench_sessions_ending_in_a_tilt()
    _store(V1Writer(settings), bench.sessions)  # the fault reaches the advice through InfluxDB

    advice = Advisor(AdviceSettings(), InfluxReader(settings)).advise(bench.done)
    assert advice.held_back
    assert "critical bar_tilt last session" in advice.reason
    assert advice.next_load_kg is not None and advice.next_load_kg <= 82
    assert advice.e1rm_kg == pytest.approx(100, rel=E1RM_TOLERANCE)


def test_the_newest_advice_is_retained_whatever_order_sets_are_advised_in(
    influxdb: LocalInfluxDB,
) -> None:
    """A set delivered again after a later one, or two processes advising one station's sets
    at once: the retained advice is the later set's, and the last the broker gets."""
    settings = InfluxSettings(url=influxdb.url, database=influxdb.database)
    reader, writer = InfluxReader(settings), V1Writer(settings)
    advisor = Advisor(AdviceSettings(), reader)
    bench = _bench_sessions_ending_in_a_tilt()
    _store(writer, bench.sessions)
    sets = [m for m in bench.sessions if isinstance(m, SetMessage) and m.session_id == "thu"]
    earlier, later = advisor.advise(sets[0]), advisor.advise(sets[-1])
    landed: list[AdviceMessage] = []

    def publish(topic: str, payload: bytes, retain: bool) -> bool:
        message = decode(payload)
        assert retain and isinstance(message, AdviceMessage)
        if message == earlier and later not in landed:  # the other process stores `later` now
            writer.write([line(advice_point(later))])
            landed.append(later)
        landed.append(message)
        return True

    reactions = Reactions(
        Alerts(AlertSettings(), reader, writer.write, lambda topic, payload: None),
        advisor,
        writer.write,
        publish,
    )
    first_set = (topic(sets[0].gym, sets[0].station, "set"), sets[0])
    try:
        reactions([first_set])  # its advice lands after `later`'s: `later` is published again
        assert landed == [later, earlier, later]
        reactions([first_set])  # delivered again: the newest is what is published
        assert landed == [later, earlier, later, later]
    finally:
        reactions.close()
    assert advisor.newest(later.gym, later.station) == later


def _advised_by_the_server(
    settings: InfluxSettings, done: SetMessage, advice: AdviceSettings | None = None
) -> AdviceMessage:
    """What the server's reactions publish for `done`, stored: at once if its reps are all
    there, or after waiting for them (up to `wait_for_reps_s`) on the thread that waits."""
    reader, writer = InfluxReader(settings), V1Writer(settings)
    published: list[bytes] = []
    reactions = Reactions(
        Alerts(AlertSettings(), reader, writer.write, lambda topic, payload: None),
        Advisor(advice or AdviceSettings(), reader),
        writer.write,
        lambda topic, payload, retain: published.append(payload) is None,
    )
    try:
        reactions([(topic(done.gym, done.station, "set"), done)])
        wait_for(lambda: bool(published), what="the advice")
    finally:
        reactions.close()
    [payload] = published
    message = decode(payload)
    assert isinstance(message, AdviceMessage)
    return message


def test_advisor_waits_for_a_rep_another_process_is_still_writing(
    influxdb: LocalInfluxDB,
) -> None:
    """On the shared subscription the tilted rep may have gone to another server process, which
    writes it a moment after this one has the set."""
    settings = InfluxSettings(url=influxdb.url, database=influxdb.database)
    writer = V1Writer(settings)
    bench = _bench_sessions_ending_in_a_tilt()
    _store(writer, bench.without_the_rep_and_set())
    other_process = threading.Timer(0.3, _store, (writer, [bench.rep]))
    other_process.start()
    advice = _advised_by_the_server(settings, bench.done)
    other_process.join()
    assert advice.held_back and "critical bar_tilt" in advice.reason
    assert "of the set's" not in advice.reason


def test_advisor_waits_for_faults_still_being_written_after_their_rep(
    influxdb: LocalInfluxDB,
) -> None:
    """A rep and its faults are one write, but a query can fall between its points: the rep's
    `fault_count` says how many faults to wait for."""
    settings = InfluxSettings(url=influxdb.url, database=influxdb.database)
    writer = V1Writer(settings)
    bench = _bench_sessions_ending_in_a_tilt()
    _store(writer, bench.without_the_rep_and_set())
    writer.write([rep_line(bench.rep)])  # the tilted rep, its fault not yet
    late_faults = [line(point) for point in fault_points(bench.rep)]
    rest_of_the_write = threading.Timer(0.3, writer.write, (late_faults,))
    rest_of_the_write.start()
    advice = _advised_by_the_server(settings, bench.done)
    rest_of_the_write.join()
    assert advice.held_back and "critical bar_tilt" in advice.reason


def test_advice_says_when_the_sets_reps_never_came(influxdb: LocalInfluxDB) -> None:
    settings = InfluxSettings(url=influxdb.url, database=influxdb.database)
    bench = _bench_sessions_ending_in_a_tilt()
    _store(V1Writer(settings), bench.without_the_rep_and_set())
    advice = _advised_by_the_server(settings, bench.done, AdviceSettings(wait_for_reps_s=0.2))
    assert not advice.held_back
    reps = bench.done.reps
    assert advice.reason.endswith(f"(from {reps - 1} of the set's {reps} reps)")


def test_no_athlete_or_no_lift_gets_a_reason_not_a_load() -> None:
    anonymous = msgspec.structs.replace(_set("today", NOW_S), athlete="")
    assert "no athlete" in advise_from(anonymous, [], AdviceSettings()).reason
    auto = msgspec.structs.replace(_set("today", NOW_S), lift="auto")
    advice = advise_from(auto, [], AdviceSettings())
    assert advice.next_load_kg is None and "auto" in advice.reason
