"""`barbell provision`: a broker's config from the template shipped in `barbell/broker/`, and a
login for each station, coach, server and gym bridge.

A login is a random password (written 0600, never printed), the client's settings, and the
user's lines in the broker's password and ACL files. Run it on the broker's host, then copy
the output directory to the client (docs/security.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import string
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from barbell import acl
from barbell.services import ServiceError, find_executable
from contract.errors import InputError
from contract.mqtt import endpoint
from contract.topics import ID_PATTERN, SHARE_GROUP

DEFAULT_BROKER_DIR = Path("/etc/mosquitto/barbell")
DEFAULT_INSTALLED_DIR = Path("/etc/barbell")  # where the client keeps the files we write
PASSWORD_FILE = "mqtt-password"
CA_FILE = "broker-ca.pem"
Command = Callable[[argparse.Namespace], int]
RELOAD_HINT = "reload the broker to apply: sudo systemctl reload mosquitto"


def template(name: str, **values: object) -> str:
    """A shipped template (`mosquitto.conf`, `bridge.conf`) with its ${names} filled in."""
    text = (resources.files("barbell") / "broker" / name).read_text(encoding="utf-8")
    return string.Template(text).substitute({k: str(v) for k, v in values.items()})


@dataclass(frozen=True)
class BrokerFiles:
    """A broker's config directory: mosquitto.conf, passwd, acl and conf.d/ for bridges."""

    dir: Path

    @property
    def conf_file(self) -> Path:
        return self.dir / "mosquitto.conf"

    @property
    def passwd_file(self) -> Path:
        return self.dir / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.dir / "acl"

    @property
    def conf_d(self) -> Path:
        return self.dir / "conf.d"

    def write(
        self,
        certfile: Path,
        keyfile: Path,
        port: int = 8883,
        bind: str | None = None,
        state_dir: Path = Path("/var/lib/mosquitto"),
        run_as: str = "mosquitto",
        max_queued: int = 1_000_000,
    ) -> None:
        """Render mosquitto.conf; start empty password and ACL files unless they hold users."""
        self.conf_d.mkdir(parents=True, exist_ok=True)
        conf = template(
            "mosquitto.conf",
            run_as=run_as,
            port=port,
            bind=f" {bind}" if bind else "",
            certfile=certfile.resolve(),
            keyfile=keyfile.resolve(),
            dir=self.dir.resolve(),
            state_dir=state_dir.resolve(),
            max_queued=max_queued,
        )
        write_file(self.conf_file, conf, mode=0o644)
        if not self.passwd_file.exists():
            write_file(self.passwd_file, "")
        if not self.acl_file.exists():
            write_file(self.acl_file, acl.HEADER)

    def add_user(self, role: acl.Role, user: str, grants: Sequence[acl.Grant]) -> str:
        """Give `user` a new random password and exactly `grants`; returns the password."""
        if not (self.passwd_file.is_file() and self.acl_file.is_file()):
            raise InputError(
                f"{self.dir} holds no broker's passwd and acl: run `barbell provision broker`"
            )
        rules = acl.upsert(self.acl_file.read_text(encoding="utf-8"), role, user, grants)
        password = secrets.token_urlsafe(24)
        hashed = _hash(user, password)
        lines = [
            line
            for line in self.passwd_file.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith(f"{user}:")
        ]
        write_file(self.passwd_file, "\n".join([*lines, hashed]) + "\n")
        write_file(self.acl_file, rules)
        return password


def _hash(user: str, password: str) -> str:
    """The password file line for `user`, hashed by mosquitto_passwd.

    `mosquitto_passwd -b` would put the password on a command line, visible in `ps`; `-U`
    hashes a file in place instead, but rehashes any line that is already a hash, so the one
    new line is hashed alone in a private temp dir.
    """
    try:
        tool = find_executable("mosquitto_passwd")
    except ServiceError as exc:
        raise InputError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="barbell-passwd-") as scratch:
        plain = Path(scratch) / "passwd"
        write_file(plain, f"{user}:{password}\n")
        subprocess.run([tool, "-U", str(plain)], check=True, capture_output=True)
        return plain.read_text(encoding="utf-8").strip()


def write_file(path: Path, text: str, mode: int = 0o600) -> None:
    """Write atomically (a crash leaves the old file or the new one), `mode` from the start so
    a secret is never readable by others, with the owner of the file it replaces."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            os.fchmod(file.fileno(), mode)
            with contextlib.suppress(FileNotFoundError, PermissionError):
                # The broker's user must keep reading its passwd and acl after we rewrite them.
                old = path.stat()
                os.fchown(file.fileno(), old.st_uid, old.st_gid)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _check_id(what: str, value: str) -> str:
    if not re.fullmatch(ID_PATTERN, value):
        raise InputError(
            f"{what} {value!r}: use 1–64 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit (it becomes a topic level)"
        )
    return value


def _check_url(url: str) -> str:
    try:
        _, _, tls = endpoint(url)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not tls:
        raise InputError(f"--url {url}: the broker takes TLS only, use mqtts://")
    return url


def _toml(sections: dict[str, dict[str, str]]) -> str:
    # A JSON string is a valid TOML basic string.
    return "\n".join(
        f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())
        for name, keys in sections.items()
    )


def _client_settings(args: argparse.Namespace, username: str) -> dict[str, str]:
    """The client's [mqtt] settings, naming its files where it will keep them."""
    _check_url(args.url)
    installed: Path = args.installed_dir
    mqtt = {"url": args.url, "username": username}
    mqtt["password_file"] = str(installed / PASSWORD_FILE)
    if args.ca_file is not None:
        if not args.ca_file.is_file():
            raise InputError(f"--ca-file {args.ca_file}: no such file")
        mqtt["ca_file"] = str(installed / CA_FILE)
    return mqtt


def _copy_ca(args: argparse.Namespace, out: Path) -> None:
    if args.ca_file is not None:
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.ca_file, out / CA_FILE)
        (out / CA_FILE).chmod(0o644)  # a certificate, not a secret


def _login(
    args: argparse.Namespace,
    role: acl.Role,
    username: str,
    grants: Sequence[acl.Grant],
    settings: str,
    extra: dict[str, dict[str, str]] | None = None,
    session: str | None = None,
) -> int:
    """The user on the broker, then the client's files in --out. Bad input changes nothing.
    `session`: the start of the client's id, which a secret ends: Mosquitto binds no client id
    to a login, and a login that connects under another's id takes its session, and what is
    queued for it (a station's commands and advice, a coach's alerts)."""
    mqtt = _client_settings(args, username)
    if session is not None:
        mqtt["client_id"] = f"{session}-{secrets.token_hex(8)}"
    password = BrokerFiles(args.broker_dir).add_user(role, username, grants)
    out: Path = args.out or Path(f"barbell-{role}-{username.replace('@', '-')}")
    _copy_ca(args, out)
    write_file(out / PASSWORD_FILE, password + "\n")
    write_file(out / settings, _toml({**(extra or {}), "mqtt": mqtt}), mode=0o644)
    print(f"{role} {username}: wrote {out}/ ({settings}, {PASSWORD_FILE}); {RELOAD_HINT}")
    return 0


def _broker(args: argparse.Namespace) -> int:
    for flag, path in (("--certfile", args.certfile), ("--keyfile", args.keyfile)):
        if not path.is_file():
            raise InputError(f"{flag} {path}: no such file")
    BrokerFiles(args.dir).write(
        args.certfile, args.keyfile, args.port, args.bind, args.state_dir, args.run_as
    )
    print(f"wrote {args.dir}/mosquitto.conf; run: mosquitto -c {args.dir}/mosquitto.conf")
    return 0


def _station(args: argparse.Namespace) -> int:
    gym, station = _check_id("--gym", args.gym), _check_id("--id", args.id)
    return _login(
        args,
        "station",
        f"{station}@{gym}",
        acl.station(gym, station),
        "edge.toml",
        # A provisioned station is a real bar: its chips, not the simulator.
        {"station": {"gym": gym, "id": station}, "sensor": {"kind": "i2c"}},
        session=f"barbell-edge-{gym}-{station}",
    )


def _coach(args: argparse.Namespace) -> int:
    gym, name = _check_id("--gym", args.gym), _check_id("--name", args.name)
    return _login(
        args, "coach", f"{name}@{gym}", acl.coach(gym), "coach.toml",
        session=f"barbell-coach-{gym}-{name}",
    )  # fmt: skip


def _server(args: argparse.Namespace) -> int:
    name = _check_id("--name", args.name)
    # Drawn here, so only the servers' settings name it (server/config.py, share_group).
    group = {"share_group": f"{SHARE_GROUP}-{secrets.token_hex(12)}"}
    return _login(args, "server", name, acl.server(), "server.toml", {"ingest": group})


def _bridge(args: argparse.Namespace) -> int:
    """The gym's user on the central broker, and the bridge config for the gym's broker."""
    gym = _check_id("--gym", args.gym)
    host, port, _ = endpoint(args.url)
    mqtt = _client_settings(args, f"bridge@{gym}")
    password = BrokerFiles(args.broker_dir).add_user("bridge", mqtt["username"], acl.bridge(gym))
    out: Path = args.out or Path(f"barbell-bridge-{gym}")
    _copy_ca(args, out)
    # Without a CA file the bridge trusts the system's CAs, as the clients do.
    ca = mqtt.get("ca_file", "/etc/ssl/certs/ca-certificates.crt")
    conf = bridge_conf(gym, f"{host}:{port}", mqtt["username"], password, Path(ca))
    write_file(out / f"bridge-{gym}.conf", conf)
    print(
        f"bridge {mqtt['username']}: wrote {out}/bridge-{gym}.conf for the gym broker's "
        f"conf.d/ (the CA as {mqtt.get('ca_file', 'the system CAs')}); {RELOAD_HINT}"
    )
    return 0


def bridge_conf(gym: str, address: str, username: str, password: str, ca_file: Path) -> str:
    # A `#` would start a comment and a space would end the value: token_urlsafe has neither.
    return template(
        "bridge.conf",
        gym=gym,
        address=address,
        username=username,
        password=password,
        tls=f"bridge_cafile {ca_file}\nbridge_insecure false",
    )


def add_commands(provision: argparse.ArgumentParser) -> None:
    """The `barbell provision` subcommands."""
    roles = provision.add_subparsers(dest="role", required=True, metavar="ROLE")

    broker = roles.add_parser("broker", help="write the broker's config from the template")
    broker.set_defaults(role_run=_broker)
    broker.add_argument("--dir", type=Path, default=DEFAULT_BROKER_DIR, help="config directory")
    broker.add_argument("--certfile", type=Path, required=True, help="the broker's certificate")
    broker.add_argument("--keyfile", type=Path, required=True, help="its private key")
    broker.add_argument("--port", type=int, default=8883)
    broker.add_argument("--bind", help="listen on this address only (default: all)")
    broker.add_argument("--state-dir", type=Path, default=Path("/var/lib/mosquitto"))
    broker.add_argument("--run-as", default="mosquitto", help="the user the broker runs as")

    def login(name: str, run: Command, text: str) -> argparse.ArgumentParser:
        sub = roles.add_parser(name, help=text, description=text)
        sub.set_defaults(role_run=run)
        sub.add_argument("--broker-dir", type=Path, default=DEFAULT_BROKER_DIR)
        sub.add_argument("--url", required=True, help="the broker as the client reaches it")
        sub.add_argument("--ca-file", type=Path, help="the CA that signed the broker's cert")
        sub.add_argument("--out", type=Path, help="where to write the client's files")
        sub.add_argument(
            "--installed-dir",
            type=Path,
            default=DEFAULT_INSTALLED_DIR,
            help="where the client will keep them (named in its settings)",
        )
        return sub

    station = login("station", _station, "a station's login, ACL and edge.toml")
    station.add_argument("--gym", required=True)
    station.add_argument("--id", required=True)
    coach = login("coach", _coach, "a coach's login: alerts, advice and commands of one gym")
    coach.add_argument("--gym", required=True)
    coach.add_argument("--name", required=True)
    server = login("server", _server, "a server's login: reads all, writes alerts and advice")
    server.add_argument("--name", required=True)
    bridge = login("bridge", _bridge, "a gym's login on the central broker, and its bridge")
    bridge.add_argument("--gym", required=True)
    bridge.set_defaults(installed_dir=DEFAULT_BROKER_DIR)
