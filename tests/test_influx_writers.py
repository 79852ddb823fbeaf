"""Both InfluxDB writers: the 1.x one against the real 1.6 server, the 2.x one against an HTTP
endpoint that records its requests, whose line protocol the real 1.6 server must then accept.
"""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest
from influxdb_client import Point, WritePrecision

from barbell.services import LocalInfluxDB, free_port
from contract.messages import AdviceMessage, Fault, RepMessage
from server.config import InfluxSettings
from server.influx import InfluxReader, V1Writer, V2Writer, WriteError
from server.influxql import quoted
from server.points import advice_point, line, lines_for, rep_line
from tests.helpers import rows


def _rep(rep_index: int, athlete: str = "ana lee") -> RepMessage:
    return RepMessage(
        msg_id=f"g1/bar1/s1/s0/r{rep_index}",
        gym="g1",
        station="bar1",
        session_id="s1",
        athlete=athlete,
        lift="hip_thrust",
        load_kg=100.0,
        set_index=0,
        rep_index=rep_index,
        t_start=1_700_000_000.0 + rep_index * 3,
        t_concentric_start=1_700_000_000.2 + rep_index * 3,
        t_concentric_end=1_700_000_000.6 + rep_index * 3,
        t_end=1_700_000_002.0 + rep_index * 3,
        rom_m=0.25,
        mean_velocity_mps=0.6,
        peak_velocity_mps=float("nan"),
        faults=[Fault("bar_tilt", "warn", 6.0, 5.0)],
    )


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []
    status = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
        type(self).requests.append((self.command, self.path, dict(self.headers), body))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Recorder", (_Recorder,), {"requests": [], "status": 204})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_v2_writer_sends_well_formed_requests_that_influxdb_1x_accepts(
    recorder: tuple[str, type[_Recorder]], influxdb: LocalInfluxDB, tmp_path: Path
) -> None:
    url, handler = recorder
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    writer = V2Writer(
        InfluxSettings(url=url, api=2, org="gym-org", bucket="reps", token_file=token)
    )
    lines = [rep_line(_rep(i)) for i in range(3)]
    writer.write(lines)
    writer.close()

    [(method, path, headers, body)] = handler.requests
    target = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(target.query)
    assert (method, target.path) == ("POST", "/api/v2/write")
    assert (
        query["org"] == ["gym-org"] and query["bucket"] == ["reps"] and query["precision"] == ["ns"]
    )
    assert headers["Authorization"] == "Token s3cret-token"
    assert body.decode().splitlines() == lines

    # The same bytes, posted to the real 1.x server, are stored as three points.
    V1Writer(InfluxSettings(url=influxdb.url)).write(body.decode().splitlines())
    stored = rows(influxdb, 'SELECT * FROM "rep" GROUP BY *')
    assert len(stored) == 3
    assert {p["athlete"] for p in stored} == {"ana lee"}
    assert all(p["fault_count"] == 1 and p["rom_m"] == 0.25 for p in stored)
    assert all(p.get("peak_velocity_mps") is None for p in stored)  # NaN is left out, not sent


def test_each_fault_is_a_point_tagged_with_its_code(influxdb: LocalInfluxDB) -> None:
    writer = V1Writer(InfluxSettings(url=influxdb.url))
    for _ in range(2):  # a resend overwrites
        writer.write(lines_for(_rep(3)))
    [fault] = rows(influxdb, 'SELECT * FROM "fault" GROUP BY *')
    expected = ("bar_tilt", "warn", 6.0, 5.0)
    assert (fault["code"], fault["severity"], fault["value"], fault["threshold"]) == expected
    assert fault["msg_id"] == _rep(3).msg_id and fault["athlete"] == "ana lee"


def test_a_whole_number_load_is_still_a_float_field(influxdb: LocalInfluxDB) -> None:
    """A load read back from InfluxDB comes as the int 100; stored as an integer field, it would
    make InfluxDB refuse the next advice's 102.5."""
    writer = V1Writer(InfluxSettings(url=influxdb.url))
    for t, last_load in ((1.0, 100), (2.0, 102.5)):
        advice = AdviceMessage(
            gym="g1", station="bar1", athlete="ana", lift="hip_thrust", t=1.7e9 + t,
            next_load_kg=last_load, last_load_kg=last_load, step_kg=2.5, reason="test",
        )  # fmt: skip
        writer.write([line(advice_point(advice))])
    assert [p["last_load_kg"] for p in rows(influxdb, 'SELECT * FROM "advice"')] == [100, 102.5]


def test_v2_writer_sorts_server_errors_into_retry_and_reject(
    recorder: tuple[str, type[_Recorder]],
) -> None:
    url, handler = recorder
    settings = InfluxSettings(url=url, api=2, org="o", bucket="b")
    for status, retry in ((503, True), (429, True), (404, True), (401, True), (400, False)):
        handler.status = status
        with pytest.raises(WriteError) as caught:
            V2Writer(settings).write([rep_line(_rep(0))])
        assert caught.value.retry is retry, status


def test_v1_writer_rejects_bad_line_protocol_without_retry(influxdb: LocalInfluxDB) -> None:
    with pytest.raises(WriteError) as caught:
        V1Writer(InfluxSettings(url=influxdb.url)).write(["rep,gym=g1 rom_m=notanumber 1"])
    assert caught.value.retry is False
    assert "400" in str(caught.value)


def test_a_database_influxdb_does_not_know_is_an_outage_not_bad_data(
    influxdb: LocalInfluxDB,
) -> None:
    """Until someone creates it, the ingest holds its batch instead of dead-lettering reps."""
    missing = InfluxSettings(url=influxdb.url, database="no_such_database")
    with pytest.raises(WriteError) as caught:
        V1Writer(missing).write([rep_line(_rep(0))])
    assert caught.value.retry is True
    assert "database not found" in str(caught.value)


def test_writers_call_an_unreachable_server_a_retry() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for writer in (
        V1Writer(InfluxSettings(url=url)),
        V2Writer(InfluxSettings(url=url, api=2, org="o", bucket="b")),
    ):
        with pytest.raises(WriteError) as caught:
            writer.write([rep_line(_rep(0))])
        assert caught.value.retry is True


def test_a_resent_rep_overwrites_its_point(influxdb: LocalInfluxDB) -> None:
    writer = V1Writer(InfluxSettings(url=influxdb.url))
    for _ in range(3):
        writer.write([rep_line(_rep(7))])
    assert len(rows(influxdb, 'SELECT * FROM "rep"')) == 1


@pytest.mark.parametrize(
    "awkward",
    ["ana lee", "O'Brien \\ the second", 'a,b=c "d"\nnew line', "ends in \\", "", "ünïcode"],
)
def test_a_rep_line_is_what_influxdb_clients_point_writes(awkward: str) -> None:
    """rep_line writes text directly for speed: the same bytes as the Point it replaced, for
    names that need escaping, absent and non-finite values, and whole floats."""
    rep = msgspec.structs.replace(
        _rep(2, athlete=awkward), station=awkward or "bar1", msg_id=f"{awkward}/r2",
        load_kg=None, rom_m=1.0, peak_velocity_mps=float("inf"),
    )  # fmt: skip
    point = Point("rep").time(round(rep.t_concentric_end * 1e9), WritePrecision.NS)
    tags = ("gym", "station", "athlete", "lift")
    for tag in tags:
        point.tag(tag, getattr(rep, tag))
    lists = ("faults", "unjudged", "fault_streaks", "fault_counts")
    for name, value in msgspec.structs.asdict(rep).items():
        if name not in (*tags, *lists) and value is not None:
            point.field(name, value)
    point.field("fault_count", len(rep.faults))
    assert rep_line(rep) == point.to_line_protocol()


def test_reader_reads_back_what_was_written_and_quotes_any_name(influxdb: LocalInfluxDB) -> None:
    settings = InfluxSettings(url=influxdb.url, database=influxdb.database)
    awkward = "O'Brien \\ the second"
    V1Writer(settings).write([rep_line(_rep(0, athlete=awkward))])
    reader = InfluxReader(settings)
    found = reader.query(f"SELECT rom_m FROM rep WHERE athlete = {quoted(awkward)}")
    assert [row["rom_m"] for row in found] == [0.25]
    assert reader.query("SELECT rom_m FROM rep WHERE athlete = 'nobody'") == []
    with pytest.raises(WriteError) as failure:
        reader.query("SELECT FROM WHERE")
    assert not failure.value.retry
