"""Private Mosquitto and InfluxDB daemons for the demo and the tests.

Each runs from its own config in its own temp dir on a free loopback port, so several can run
beside each other and beside any system-wide daemon. Children are tied to this process with
PR_SET_PDEATHSIG, so not even a SIGKILL of the parent leaves one behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

_PR_SET_PDEATHSIG = 1


class ServiceError(RuntimeError):
    """A local daemon could not be found or did not become ready."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def find_executable(executable: str) -> str:
    found = shutil.which(executable) or shutil.which(executable, path="/usr/sbin:/usr/bin")
    if found is None:
        raise ServiceError(
            f"{executable} not found: run `make demo` or `make test` (they install it), "
            "or `apt-get install mosquitto influxdb`"
        )
    return found


class _Daemon:
    """A child process with its own temp dir, stopped and cleaned up on exit."""

    name = "daemon"

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"barbell-{self.name}-"))
        self._process: subprocess.Popen[bytes] | None = None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout_s: float = 20.0) -> None:
        log = (self.dir / f"{self.name}.log").open("wb")
        self._process = subprocess.Popen(
            self._command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServiceError(f"{self.name} exited at start-up: {self.log_tail()}")
            if self._ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServiceError(f"{self.name} not ready after {timeout_s:.0f} s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the daemon but keep its data dir, so it can be restarted (outage tests)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 5) -> str:
        log = self.dir / f"{self.name}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class LocalMosquitto(_Daemon):
    """Mosquitto with persistence and a deep queue for offline persistent sessions.

    Given `users` (name → password), it is a gym's locked-down broker instead: TLS only, with a
    certificate for 127.0.0.1 signed by a throwaway CA (`ca_file`), and no anonymous clients.
    """

    name = "mosquitto"

    def __init__(
        self, users: Mapping[str, str] | None = None, client_certificates: bool = False
    ) -> None:
        """`client_certificates`: also demand one signed by `ca_file` (`client.pem`, `.key`)."""
        super().__init__()
        self.users = dict(users or {})
        self.client_certificates = client_certificates
        # Run this config instead of one of ours, e.g. a rendered `barbell provision broker`
        # template: it must listen on `port` and keep its persistence in `dir`.
        self.config_file: Path | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.users else 'mqtt'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.pem"

    def _command(self) -> list[str]:
        if self.config_file is not None:
            return [find_executable("mosquitto"), "-c", str(self.config_file)]
        conf = self.dir / "mosquitto.conf"
        access = self._locked_down() if self.users else "allow_anonymous true\n"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"{access}"
            # Stay the current user: dropping to `mosquitto` would clear PR_SET_PDEATHSIG.
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            # The default of 1000 would drop reps queued for an offline server.
            "max_queued_messages 1000000\n"
            # Small packets answered one by one: Nagle would hold each PUBACK some 40 ms.
            "set_tcp_nodelay true\n"
            "log_type error\nlog_type warning\n"
        )
        return [find_executable("mosquitto"), "-c", str(conf)]

    def _locked_down(self) -> str:
        """Certificates and a password file in the temp dir, and the config lines naming them."""
        if not self.ca_file.exists():  # a restart keeps them
            issue_certificates(self.dir)
        passwords = self.dir / "passwd"
        passwords.write_text("".join(f"{user}:{pw}\n" for user, pw in self.users.items()))
        # -U hashes the file in place: no password on a command line.
        subprocess.run(
            [find_executable("mosquitto_passwd"), "-U", str(passwords)],
            check=True,
            capture_output=True,
        )
        demand = f"cafile {self.ca_file}\nrequire_certificate true\n"
        return (
            f"certfile {self.dir}/server.pem\nkeyfile {self.dir}/server.key\n"
            f"{demand if self.client_certificates else ''}"
            f"allow_anonymous false\npassword_file {passwords}\n"
        )

    def _ready(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
            return True
        return False


def issue_certificates(directory: Path) -> None:
    """A throwaway CA (ca.pem) and what it signs: a server certificate for 127.0.0.1
    (server.pem, server.key) and a client certificate (client.pem, client.key)."""
    key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    commands = [
        f"req -x509 {key} -subj /CN=barbell-throwaway-CA -days 2 -keyout ca.key -out ca.pem"
    ]
    for name, subject, usage in (
        ("server", "/CN=127.0.0.1", "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth"),
        ("client", "/CN=barbell-station", "extendedKeyUsage = clientAuth"),
    ):
        (directory / f"{name}.ext").write_text(f"{usage}\nauthorityKeyIdentifier = keyid\n")
        commands += [
            f"req {key} -subj {subject} -keyout {name}.key -out {name}.csr",
            f"x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
            f" -extfile {name}.ext -out {name}.pem",
        ]
    for command in commands:
        subprocess.run(
            [find_executable("openssl"), *command.split()],
            cwd=directory,
            check=True,
            capture_output=True,
        )


class LocalInfluxDB(_Daemon):
    """InfluxDB 1.x with reporting, monitoring and the RPC port turned off."""

    name = "influxd"

    def __init__(self, database: str = "barbell", max_body_bytes: int = 25_000_000) -> None:
        """`max_body_bytes`: the largest write request it takes (InfluxDB's default)."""
        super().__init__()
        self.database = database
        self.max_body_bytes = max_body_bytes

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        conf = self.dir / "influxdb.conf"
        conf.write_text(
            "reporting-disabled = true\n"
            # The RPC port 8088 is shared by default, which breaks two daemons side by side.
            'bind-address = "127.0.0.1:0"\n'
            f'[meta]\n  dir = "{self.dir}/meta"\n'
            f'[data]\n  dir = "{self.dir}/data"\n  wal-dir = "{self.dir}/wal"\n'
            "  query-log-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            f"  max-body-size = {self.max_body_bytes}\n"
            "[monitor]\n  store-enabled = false\n"
            "[subscriber]\n  enabled = false\n"
            "[continuous_queries]\n  enabled = false\n"
        )
        return [find_executable("influxd"), "-config", str(conf)]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=0.5) as response:
                if response.status != 204:
                    return False
        except (OSError, urllib.error.URLError):
            return False
        self.query(f'CREATE DATABASE "{self.database}"')
        return True

    def query(self, influxql: str) -> dict:
        """Run InfluxQL through /query and return the decoded JSON."""
        body = urllib.parse.urlencode({"q": influxql, "db": self.database}).encode()
        with urllib.request.urlopen(f"{self.url}/query", data=body, timeout=10) as response:
            return dict(json.load(response))
