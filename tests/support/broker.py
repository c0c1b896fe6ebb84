"""A real Mosquitto for the tests: its own config, passwords and the project's ACL, on a free
loopback port. Users are named as in production: a bridge's user is its device id."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ACL = REPO / "mosquitto" / "acl"
USERS = (
    "grid-meter", "zendure", "controller", "homeassistant", "nodered", "cli", "owner",
    "shelly-grid-meter", "smartevse", "smartevse-garage", "kraken", "powerwall",
    "zappi",  # the myenergi bridge
    "nrgkick",  # the nrgkick bridge
    "solaredge-meter", "solaredge-battery", "solaredge-inverter",  # the solaredge bridge
    "kasa",  # the kasa bridge (a smart plug)
    "smappee",  # the smappee bridge (a cloud meter)
    "notify",  # the notification service
)  # fmt: skip
START_TIMEOUT = 10.0  # s for mosquitto to accept connections


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def password(user: str) -> str:
    return f"pw-{user}"


@dataclass
class Broker:
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    tls: bool = False  # a TLS-only listener with a certificate from `make_ca`

    def write_config(self) -> Path:
        passwd = self.workdir / "passwd"
        passwd.write_text("")
        for user in USERS:
            subprocess.run(
                ["mosquitto_passwd", "-b", str(passwd), user, password(user)],
                check=True,
                capture_output=True,
            )
        passwd.chmod(0o600)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            # as root, mosquitto would drop to user `mosquitto`, who cannot read our temp files
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\n"
            "use_username_as_clientid true\n"  # as in mosquitto/mosquitto.conf
            "set_tcp_nodelay true\n"
            "allow_anonymous false\n"
            f"password_file {passwd}\n"
            f"acl_file {ACL}\n"
            + (
                f"cafile {self.workdir / 'ca.pem'}\n"
                f"certfile {self.workdir / 'server.pem'}\n"
                f"keyfile {self.workdir / 'server.key'}\n"
                if self.tls
                else ""
            )
            + "persistence false\n"
            f"log_dest file {self.workdir / 'mosquitto.log'}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        return conf

    def make_ca(self) -> Path:
        """A throwaway CA and a server certificate for 127.0.0.1; returns the CA file."""
        d = self.workdir

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=wattbus test CA", "-keyout", str(d / "ca.key"),
                "-out", str(d / "ca.pem"))  # fmt: skip
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))  # fmt: skip
        (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"),
                "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
                "-extfile", str(d / "san.ext"), "-out", str(d / "server.pem"))  # fmt: skip
        return d / "ca.pem"

    def start(self, conf: Path | None = None) -> None:
        """With the test config, or with `conf` (which must listen on `port` and log to
        mosquitto.log in `workdir`)."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = conf or self.write_config()
        self.process = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_file = self.workdir / "mosquitto.log"
                log = log_file.read_text(errors="replace") if log_file.exists() else ""
                stderr = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                raise RuntimeError(f"mosquitto exited: {log[-500:]}{stderr[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)  # polling for a port to open, not synchronising a test
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
