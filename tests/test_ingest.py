"""The server's ingest on a real broker and database: bad payloads go to dead letters, and the
good stream around them is stored in full."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable

import msgspec
import paho.mqtt.client as mqtt
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract import topics
from contract.config import MqttSettings
from contract.messages import RepMessage, StatusMessage, encode
from contract.mqtt import connect, make_client
from server.config import InfluxSettings, IngestSettings, ServerConfig
from server.influx import V1Writer
from server.ingest import Ingest
from tests.helpers import RECENT_S, TcpProxy, rows, wait_for


def _client(broker: LocalMosquitto, name: str) -> mqtt.Client:
    client = make_client(MqttSettings(url=broker.url), name)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    connect(client, MqttSettings(url=broker.url), clean_start=True)
    assert connected.wait(10)
    return client


def _rep(i: int) -> bytes:
    return encode(
        RepMessage(
            msg_id=f"m{i}",
            gym="g1",
            station="bar1",
            session_id="s1",
            lift="rdl",
            set_index=0,
            rep_index=i,
            t_start=RECENT_S + 4 * i,
            t_concentric_start=RECENT_S + 1.0 + 4 * i,
            t_concentric_end=RECENT_S + 1.8 + 4 * i,
            t_end=RECENT_S + 2.0 + 4 * i,
            rom_m=0.4,
        )
    )


def test_bad_payloads_are_dead_lettered_and_good_ones_stored(
    ingest: Ingest, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    dead: list[dict[str, object]] = []
    watcher = _client(mosquitto, "t-dead")
    watcher.on_message = lambda c, u, m: dead.append(json.loads(m.payload))
    watcher.subscribe(f"{topics.DEAD_LETTERS}/#", qos=1)
    station = _client(mosquitto, "t-station")
    rep_topic = topics.topic("g1", "bar1", "rep")
    bad = [
        b"not json",
        b'{"schema": "barbell.rep/2"}',
        b"[]",
        json.dumps({"schema": "barbell.rep/1"}).encode(),
    ]
    for i, payload in enumerate(bad):
        station.publish(rep_topic, _rep(i), qos=1).wait_for_publish(5)
        station.publish(rep_topic, payload, qos=1).wait_for_publish(5)

    wait_for(lambda: len(dead) == len(bad), what="dead letters")
    wait_for(lambda: ingest.stored == len(bad), what="good reps stored")
    assert [d["payload"] for d in dead] == [p.decode() for p in bad]
    assert all(d["topic"] == rep_topic and d["reason"] for d in dead)
    assert len(rows(influxdb, 'SELECT * FROM "rep"')) == len(bad)
    # Kept in InfluxDB too, for whoever looks later: MQTT reached only who listened then.
    kept = rows(influxdb, 'SELECT * FROM "dead_letter" GROUP BY *')
    assert sorted(k["payload"] for k in kept) == sorted(p.decode() for p in bad)
    assert all((k["gym"], k["station"], k["kind"]) == ("g1", "bar1", "rep") for k in kept)
    assert all(k["reason"] and k["topic"] == rep_topic for k in kept)
    for client in (watcher, station):
        client.disconnect()
        client.loop_stop()


def test_a_dead_letter_whose_acknowledgement_was_lost_is_stored_once(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    """The link to the broker drops just as the letter is written to InfluxDB: nothing is
    acknowledged, and the broker delivers the payload again (DUP). It is dead-lettered again on
    MQTT, where a letter reaches only who listens at the time, but stored once."""
    proxy = TcpProxy(mosquitto.port)
    config = ServerConfig(
        mqtt=MqttSettings(url=f"mqtt://127.0.0.1:{proxy.port}"),
        influx=InfluxSettings(url=influxdb.url),
    )
    writer = V1Writer(config.influx)

    def write(lines: list[str]) -> None:
        if any(line.startswith("dead_letter") for line in lines) and not proxy.cuts:
            proxy.cut()  # the letter's publish and the acknowledgement are lost
            threading.Timer(0.5, proxy.restore).start()
        writer.write(lines)

    server = Ingest(config, _Writing(write), client_id="t-ingest-dup")
    server.start()
    station = _client(mosquitto, "t-station")
    try:
        assert server.subscribed.wait(10)
        station.publish(topics.topic("g1", "bar1", "rep"), b"not json", qos=1).wait_for_publish(5)
        wait_for(lambda: server.dead == 1, what="the letter, acknowledged on the new link")
    finally:
        server.stop()
        station.disconnect()
        station.loop_stop()
        proxy.close()
    assert proxy.cuts == 2  # the one injected, and closing
    assert len(rows(influxdb, 'SELECT * FROM "dead_letter"')) == 1


class _Writing:
    """A writer that is a function: the real one, with a fault injected at the right moment."""

    def __init__(self, write: Callable[[list[str]], None]) -> None:
        self.write = write

    def close(self) -> None:
        pass


# What a station's own login can publish on its own topic to try to write into another gym's
# data: a line of line protocol after a newline, behind a tag that closes its own quoting.
FORGED_LINE = "rep,gym=g2,station=bar9,athlete=victim,lift=squat rom_m=9 1700000000000000000"
FORGERIES = {
    "fault code": {
        "faults": [{"code": 'x\\ y\\="', "severity": "warn", "value": 1, "threshold": 0}]
    },
    "msg_id": {"msg_id": f"m\n{FORGED_LINE}"},
    "session_id": {"session_id": f'"\n{FORGED_LINE}\nevil x=1'},
    "streak key": {"fault_streaks": {"evil x=1\n": 1}},
    "unjudged": {"unjudged": ["evil"]},
}


def test_a_station_cannot_write_points_for_another_gym(
    ingest: Ingest, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    """Each forgery is refused whole (a dead letter), and the letter kept in InfluxDB is one
    dead_letter point: no rep for g2, no new measurement."""
    station, own_topic = _client(mosquitto, "t-forger"), topics.topic("g1", "fz", "rep")
    for i, change in enumerate([*FORGERIES.values(), {}]):  # and an honest rep last
        payload = json.dumps({**json.loads(_rep(i)), "station": "fz", **change})
        station.publish(own_topic, payload, qos=1).wait_for_publish(5)
    wait_for(lambda: ingest.stored == 1, what="the honest rep stored")
    wait_for(
        lambda: len(rows(influxdb, 'SELECT * FROM "dead_letter"')) == len(FORGERIES),
        what="a dead letter per forgery",
    )
    measurements = rows(influxdb, "SHOW MEASUREMENTS")
    assert {m["name"] for m in measurements} == {"rep", "dead_letter"}
    assert rows(influxdb, """SELECT * FROM "rep" WHERE "gym" = 'g2'""") == []
    [honest] = rows(influxdb, 'SELECT * FROM "rep" GROUP BY *')
    assert (honest["station"], honest["msg_id"]) == ("fz", f"m{len(FORGERIES)}")
    kept = rows(influxdb, 'SELECT * FROM "dead_letter" GROUP BY *')
    assert {(k["gym"], k["station"]) for k in kept} == {("g1", "fz")}
    station.disconnect()
    station.loop_stop()


def test_stamps_far_from_now_and_impossible_numbers_are_dead_letters(
    ingest: Ingest, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    """A Pi that booted in 1970, a clock in 1906 (each old week an InfluxDB shard of its own),
    and a power of 1e308 W: refused whole, and the honest rep after them stored."""
    station, rep_topic = _client(mosquitto, "t-clock"), topics.topic("g1", "bar1", "rep")
    wrong = [
        {"t_start": 10.0, "t_concentric_start": 11.0, "t_concentric_end": 12.0, "t_end": 13.0},
        {"t_start": 1e9, "t_concentric_start": 1e9, "t_concentric_end": 1e9, "t_end": 1e9 + 1},
        {"peak_power_w": 1e308},
        {"t_end": 1e300},
    ]
    for i, change in enumerate([*wrong, {}]):  # and an honest rep last
        payload = json.dumps({**json.loads(_rep(i)), **change})
        station.publish(rep_topic, payload, qos=1).wait_for_publish(5)
    wait_for(lambda: ingest.stored == 1 and ingest.dead == len(wrong), what="one rep stored")
    [kept] = rows(influxdb, 'SELECT "msg_id" FROM "rep"')
    assert kept["msg_id"] == f"m{len(wrong)}"
    shards = influxdb.query("SHOW SHARDS")["results"][0]["series"]
    assert sum(len(series["values"]) for series in shards if series["name"] == "barbell") <= 2
    station.disconnect()
    station.loop_stop()


def test_a_flood_of_large_garbage_never_makes_a_request_influxdb_cannot_take(
    mosquitto: LocalMosquitto,
) -> None:
    """60 payloads of 40 KB garbage, then good reps: their dead letters' copies (32 KB each)
    would make one 2 MB write, over this InfluxDB's 1 MB limit (25 MB in production, where 900
    did it). Requests are cut by bytes, so all is stored and nothing waits."""
    with LocalInfluxDB(max_body_bytes=1_000_000) as influxdb:
        config = ServerConfig(
            mqtt=MqttSettings(url=mosquitto.url),
            influx=InfluxSettings(url=influxdb.url),
            ingest=IngestSettings(request_bytes=500_000),
        )
        server = Ingest(config, V1Writer(config.influx), client_id="t-ingest")
        server.start()
        assert server.subscribed.wait(10)
        station, rep_topic = _client(mosquitto, "t-flood"), topics.topic("g1", "bar1", "rep")
        for i in range(60):
            garbage = bytes([32 + (i + k) % 90 for k in range(40_000)])
            station.publish(rep_topic, garbage, qos=1)
        for i in range(5):
            station.publish(rep_topic, _rep(i), qos=1).wait_for_publish(5)
        wait_for(lambda: server.stored == 5 and server.dead == 60, what="reps and dead letters")
        assert len(rows(influxdb, 'SELECT * FROM "rep"')) == 5
        assert len(rows(influxdb, 'SELECT "payload_chars" FROM "dead_letter"')) == 60
        station.disconnect()
        station.loop_stop()
        server.stop()


def test_a_retained_status_handed_over_again_on_subscribing_is_not_a_new_event(
    ingest: Ingest, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    """A station switched off last night keeps its retained will, and every server restart
    subscribes again and is handed it again: it was stored once, when it happened."""
    station = _client(mosquitto, "t-station")
    will = StatusMessage(state="offline", version="0.1.0", since=1.0, gym="g1", station="bar1")
    status_topic = topics.topic("g1", "bar1", "status")
    station.publish(status_topic, encode(will), qos=1, retain=True).wait_for_publish(5)
    wait_for(lambda: ingest.stored == 1, what="the will, stored")
    ingest.stop()

    config = ServerConfig(
        mqtt=MqttSettings(url=mosquitto.url), influx=InfluxSettings(url=influxdb.url)
    )
    restarted = Ingest(config, V1Writer(config.influx), client_id="t-ingest")  # as the fixture
    restarted.start()
    try:
        assert restarted.subscribed.wait(10)
        station.publish(topics.topic("g1", "bar1", "rep"), _rep(0), qos=1).wait_for_publish(5)
        wait_for(lambda: restarted.stored >= 1, what="the rep after the retained will")
    finally:
        restarted.stop()
        station.disconnect()
        station.loop_stop()
    assert len(rows(influxdb, 'SELECT "state" FROM "station_health"')) == 1


def test_a_topic_too_long_for_a_dead_letter_prefix_still_gets_its_letter() -> None:
    """paho would refuse to publish the letter, and the ingest would lose its batch's acks."""
    head = f"{topics.ROOT}/g1/bar1/rep/"
    longest = head + "x" * (topics.MAX_TOPIC_BYTES - len(head))  # as long as MQTT allows
    assert topics.dead_letter(longest) == topics.TOO_LONG
    usual = topics.topic("g1", "bar1", "rep")
    assert topics.dead_letter(usual) == f"{topics.DEAD_LETTERS}/g1/bar1/rep"


GOOD = msgspec.json.decode(_rep(0))
FAR_FUTURE = 4_000_000_000.0  # 2096
# Each (field, value) makes a rep message wrong in one way the contract forbids.
BREAKAGES: list[tuple[str, object]] = [
    ("schema", "barbell.rep/2"),
    ("schema", "barbell.cmd/1"),
    ("schema", None),
    ("msg_id", ""),
    ("gym", "g/1"),
    ("gym", "+"),
    ("station", "bar2"),  # not the station of the topic it came on
    ("rom_m", -0.1),
    ("rom_m", 6.0),
    ("rom_m", "0.3"),
    ("rep_index", -1),
    ("rep_index", 1.5),
    ("rep_index", True),
    ("load_kg", 5000.0),
    ("t_concentric_start", 1.0),  # before t_start
    ("t_end", FAR_FUTURE),
    ("faults", [{"code": 1}]),
    ("faults", "none"),
    ("mean_velocity_mps", 99.0),
    ("lift", "curl"),
    ("athlete", "ana\\"),  # InfluxDB 1.x reads a tag's trailing backslash back as a space
    ("athlete", "ana\tlee"),
    ("athlete", "ana\n"),  # a pattern ending in $ would let a final newline through
]
REQUIRED = ["schema", "msg_id", "gym", "station", "session_id", "lift", "set_index", "rep_index"]


NOT_FINITE = _rep(1).replace(b'"rom_m":0.4', b'"rom_m":NaN')
INFINITE = _rep(1).replace(b'"rom_m":0.4', b'"rom_m":1e999')
OVERSIZED = _rep(2).replace(b'"athlete":""', b'"athlete":"' + b"x" * 300_000 + b'"')


def broken(field: str, value: object, salt: int) -> bytes:
    message = {**GOOD, "msg_id": f"bad{salt}", field: value}
    if field == "t_end":  # keep the times in order, so only the clock is wrong
        message.update(t_concentric_end=value)
    return json.dumps(message).encode()


def raw_payload(dead_letter: dict[str, str]) -> bytes:
    """The bad payload a dead letter carries: as text, or base64 when it was not UTF-8."""
    if "payload" in dead_letter:
        return dead_letter["payload"].encode()
    return base64.b64decode(dead_letter["payload_b64"])


def bad_payloads() -> st.SearchStrategy[bytes]:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
    salt = st.integers(0, 10**9)
    return st.one_of(
        st.binary(max_size=300),  # not JSON, or not UTF-8
        json_values.map(lambda value: json.dumps(value).encode()),
        st.tuples(st.sampled_from(BREAKAGES), salt).map(lambda b: broken(*b[0], b[1])),
        st.tuples(st.sampled_from(REQUIRED), salt).map(
            lambda b: json.dumps({k: v for k, v in GOOD.items() if k != b[0]}).encode()
        ),
        st.sampled_from([NOT_FINITE, INFINITE, OVERSIZED]),
    )


def test_thousands_of_malformed_payloads_are_dead_lettered_and_the_stream_between_stored(
    ingest: Ingest, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    corpus: list[bytes] = []

    @settings(max_examples=2000, database=None, deadline=None, phases=[Phase.generate])
    @given(bad_payloads())
    def collect(payload: bytes) -> None:
        corpus.append(payload)

    collect()
    assert len(corpus) >= 1500
    dead: list[bytes] = []
    watcher = _client(mosquitto, "t-dead-corpus")
    watcher.on_message = lambda c, u, m: dead.append(raw_payload(json.loads(m.payload)))
    watcher.subscribe(f"{topics.DEAD_LETTERS}/#", qos=1)
    station = _client(mosquitto, "t-station-corpus")
    rep_topic = topics.topic("g1", "bar1", "rep")
    good = 0
    for i, payload in enumerate(corpus):
        station.publish(rep_topic, payload, qos=1)
        if i % 10 == 0:  # a good rep between every ten bad payloads
            station.publish(rep_topic, _rep(1000 + good), qos=1)
            good += 1
    station.publish(rep_topic, _rep(1000 + good), qos=1).wait_for_publish(30)
    good += 1
    wait_for(lambda: len(dead) == len(corpus), timeout_s=60, what="every dead letter")
    wait_for(lambda: ingest.stored == good, what="every good rep")
    assert sorted(dead) == sorted(corpus)  # each bad payload kept byte for byte
    assert len(rows(influxdb, 'SELECT "rom_m" FROM "rep"')) == good
    # Each kept in InfluxDB too, none overwriting another at the same instant.
    kept = rows(influxdb, 'SELECT count("reason") FROM "dead_letter"')
    assert kept[0]["count"] == len(corpus)
    for client in (watcher, station):
        client.disconnect()
        client.loop_stop()
