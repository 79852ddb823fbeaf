"""The `barbell` command (SPEC section 4): the one place that wires hardware, edge and server.

User errors (bad files, bad settings) print one line and exit 2; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from contract import config as layered
from contract.errors import BarbellError, ConfigError
from contract.lifts import LIFTS

Command = Callable[[argparse.Namespace], int]
T = TypeVar("T", bound=msgspec.Struct)


def _replay(args: argparse.Namespace) -> int:
    from barbell.replay import replay

    return replay([Path(name) for name in args.files], args.lift, args.json, args.jobs)


def _simulate(args: argparse.Namespace) -> int:
    from barbell.simulate_command import simulate_to_files

    return simulate_to_files(args)


def _settings(cls: type[T], args: argparse.Namespace, flags: dict[str, dict[str, Any]]) -> T:
    """The daemon's settings; with --check-config, report them and exit (1 if they are bad)."""
    try:
        config = layered.load(cls, args.config, flags=flags)
    except ConfigError as exc:
        if not args.check_config:
            raise
        print(f"barbell {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    if args.check_config:
        # Secrets live in files: the settings name the files, never what is in them.
        print(msgspec.json.format(msgspec.json.encode(config, enc_hook=str)).decode())
        raise SystemExit(0)
    return config


def _edge(args: argparse.Namespace) -> int:
    from edge.config import EdgeConfig
    from edge.daemon import run_edge

    flags = {"mqtt": {"url": args.mqtt_url}, "sensor": {"kind": args.sensor}}
    config = _settings(EdgeConfig, args, flags)
    stop = _stop_on_signals()
    sent = run_edge(config, stop)
    logging.info("published %d messages", sent)
    return 0


def _server(args: argparse.Namespace) -> int:
    from server.app import run_server
    from server.config import ServerConfig

    flags = {"mqtt": {"url": args.mqtt_url}, "influx": {"url": args.influx_url}}
    config = _settings(ServerConfig, args, flags)
    run_server(config, _stop_on_signals())
    return 0


def _probe(args: argparse.Namespace) -> int:
    from barbell.hardware_commands import probe_command

    return probe_command(args.sensor, args.bus)


def _record(args: argparse.Namespace) -> int:
    from barbell.hardware_commands import record_command
    from edge.config import EdgeConfig

    flags = {"sensor": {"kind": args.sensor, "bus": args.bus}}
    config = layered.load(EdgeConfig, args.config, flags=flags)
    return record_command(config, args.output, args.seconds)


def _calibrate(args: argparse.Namespace) -> int:
    from barbell.hardware_commands import calibrate_command
    from edge.config import EdgeConfig

    flags = {"sensor": {"kind": args.sensor, "bus": args.bus}}
    config = layered.load(EdgeConfig, args.config, flags=flags)
    return calibrate_command(config, args.known_kg, args.seconds)


def _demo(args: argparse.Namespace) -> int:
    from barbell.demo import run_demo

    return run_demo(
        args.mqtt_url,
        args.influx_url,
        sets=args.sets,
        reps=args.reps,
        seed=args.seed,
        realtime=not args.fast,
        out_dir=args.out_dir,
    )


def _report(args: argparse.Namespace) -> int:
    from barbell.report import latest_session, load_session, write_report
    from server.config import InfluxSettings
    from server.influx import InfluxReader

    reader = InfluxReader(InfluxSettings(url=args.influx_url, database=args.database))
    session = args.session or latest_session(reader, args.athlete, args.station)
    out = write_report(load_session(reader, session), args.out)
    print(f"wrote {out} (session {session})")
    return 0


def _provision(args: argparse.Namespace) -> int:
    return int(args.role_run(args))


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="barbell", description="Open smart barbell.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Command, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(run=run)
        return sub

    demo = command("demo", _demo, "the whole pipeline on this machine, live")
    demo.add_argument("--mqtt-url", help="use this broker instead of starting one")
    demo.add_argument("--influx-url", help="use this InfluxDB 1.x instead of starting one")
    demo.add_argument("--sets", type=int, default=3)
    demo.add_argument("--reps", type=int, default=5)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--fast", action="store_true", help="lift as fast as the analysis runs")
    demo.add_argument("--out-dir", type=Path, default=Path("."), help="where the reports go")

    report = command("report", _report, "draw one session's report as a PNG, from InfluxDB")
    report.add_argument("--influx-url", default="http://127.0.0.1:8086", help="InfluxDB 1.x")
    report.add_argument("--database", default="barbell")
    report.add_argument("--session", help="session id (default: the latest one)")
    report.add_argument("--athlete", help="the latest session of this athlete")
    report.add_argument("--station", help="the latest session at this station")
    report.add_argument("--out", type=Path, default=Path("session.png"), help="PNG to write")

    edge = command("edge", _edge, "the station daemon")
    edge.add_argument("--config", type=Path, help="TOML settings file")
    edge.add_argument("--sensor", choices=["i2c", "emulated", "sim"])
    edge.add_argument("--mqtt-url")
    edge.add_argument("--check-config", action="store_true", help="validate, print, and exit")

    server = command("server", _server, "ingest into InfluxDB")
    server.add_argument("--config", type=Path, help="TOML settings file")
    server.add_argument("--mqtt-url")
    server.add_argument("--influx-url")
    server.add_argument("--check-config", action="store_true", help="validate, print, and exit")

    replay = command("replay", _replay, "run the edge analysis on recordings")
    replay.add_argument("files", nargs="+", metavar="FILE", help="recordings, or folders of them")
    replay.add_argument("--lift", choices=[*LIFTS, "auto"])
    replay.add_argument("--json", action="store_true", help="one MQTT payload per line")
    replay.add_argument(
        "--jobs", type=int, metavar="N", help="processes for several files (default: all cores)"
    )

    probe = command("probe", _probe, "scan I²C: which devices answer, and what they are")
    probe.add_argument("--sensor", choices=["i2c", "emulated"], default="i2c")
    probe.add_argument("--bus", type=int, default=1, help="N of /dev/i2c-N")

    record = command("record", _record, "write live sensor data to a recording")
    record.add_argument("output", type=Path, help="recording file to write (CSV)")
    record.add_argument("--config", type=Path, help="TOML settings file")
    record.add_argument("--sensor", choices=["i2c", "emulated", "sim"])
    record.add_argument("--bus", type=int)
    record.add_argument("--seconds", type=float, help="stop after this long (default: Ctrl-C)")

    calibrate = command("calibrate", _calibrate, "measure gyro bias and load-cell tare or scale")
    calibrate.add_argument("--config", type=Path, help="TOML settings file (state.dir)")
    calibrate.add_argument("--sensor", choices=["i2c", "emulated"])
    calibrate.add_argument("--bus", type=int)
    calibrate.add_argument("--known-kg", type=float, help="this mass evenly on the bar: scale")
    calibrate.add_argument("--seconds", type=float, default=1.5, help="how long to measure")

    provision = command("provision", _provision, "broker config, and logins with their rights")
    from barbell.provision import add_commands

    add_commands(provision)

    simulate = command("simulate", _simulate, "write a simulated recording and its truth")
    simulate.add_argument("output", type=Path, help="recording file to write (CSV)")
    simulate.add_argument("--lift", choices=LIFTS, help="default: hip_thrust, or drawn")
    simulate.add_argument("--sets", type=int, default=1)
    simulate.add_argument("--reps", type=int, default=5)
    simulate.add_argument("--load", type=float, default=100.0, help="kg, bar included")
    simulate.add_argument("--one-rm", type=float, default=160.0, help="athlete's 1RM in kg")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--rate", type=float, default=1000.0, help="IMU rate in Hz")
    simulate.add_argument("--noise", type=float, default=1.0, help="sensor error scale")
    simulate.add_argument(
        "--force-rate",
        type=float,
        choices=[80.0, 320.0],
        default=320.0,
        help="load-cell samples per second",
    )
    simulate.add_argument("--no-load-cells", action="store_true")
    simulate.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="CODE[:MAG][@REPS]",
        help="inject a form fault, e.g. bar_tilt:0.5@3,4 (repeatable)",
    )
    simulate.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="KIND:T[:DUR]",
        help="stage a sensor fault: impact, nan or gone, e.g. gone:8:0.5",
    )
    simulate.add_argument("--rest", type=float, default=10.0, help="seconds between sets")
    simulate.add_argument(
        "--duration", type=float, default=0.0, help="pad with rest to at least this many seconds"
    )
    simulate.add_argument(
        "--no-setup",
        action="store_true",
        help="no unrack, walk-out or rolling the bar onto the hips",
    )
    simulate.add_argument(
        "--condition",
        metavar="NAME",
        help="draw the set, sensor, handling and timing by --seed from this condition of the "
        "randomized world, e.g. hand_held or bluetooth (docs/simulator.md); ignores the other "
        "set flags",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args))
    except BarbellError as exc:
        print(f"barbell {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
