"""The broker a home gets from `make broker-users` and mosquitto/, run for real.

compose.yaml cannot run here (no Docker engine), so its broker is started the way the container
starts it, minus the paths: the production mosquitto.conf with /mosquitto/config and
/mosquitto/data moved to a temp folder and the listener moved to a free loopback port, with the
passwd file that scripts/broker-users wrote from mosquitto/users.example.
"""

from __future__ import annotations

import getpass
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest
from support.broker import REPO, Broker
from support.mqtt import Observer, observing

SCRIPT = REPO / "scripts" / "broker-users"


def listed_users(users_file: Path) -> list[str]:
    names = (line.split("#", 1)[0].strip() for line in users_file.read_text().splitlines())
    return [name for name in names if name]


@pytest.fixture
def home_dir(tmp_path: Path) -> Path:
    """The parts of a checkout that the broker set-up uses, as a user has them."""
    root = tmp_path / "wattbus"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, root / "scripts" / "broker-users")
    shutil.copytree(REPO / "mosquitto", root / "mosquitto",
                    ignore=shutil.ignore_patterns("passwd", "users"))  # fmt: skip
    return root


def broker_users(root: Path) -> None:
    subprocess.run([root / "scripts" / "broker-users"], check=True, capture_output=True)


def test_broker_users_writes_a_password_per_user_and_keeps_them(home_dir: Path) -> None:
    broker_users(home_dir)
    users = listed_users(home_dir / "mosquitto" / "users")
    assert users == listed_users(home_dir / "mosquitto" / "users.example")
    passwd = (home_dir / "mosquitto" / "passwd").read_text()
    assert sorted(line.split(":", 1)[0] for line in passwd.splitlines()) == sorted(users)
    secrets = {u: home_dir / "secrets" / f"{u}.password" for u in users}
    first = {u: f.read_text() for u, f in secrets.items()}
    assert all(first.values())
    # the folder keeps other host users out; the files stay readable for the containers'
    # non-root users, which compose's bind mount gives the host owner and mode
    assert (home_dir / "secrets").stat().st_mode & 0o777 == 0o700
    assert {f.stat().st_mode & 0o777 for f in secrets.values()} == {0o644}
    assert (home_dir / "mosquitto" / "passwd").stat().st_mode & 0o777 == 0o600

    broker_users(home_dir)  # again: nothing changes for existing users
    assert {u: f.read_text() for u, f in secrets.items()} == first


def test_broker_users_refuses_a_name_that_would_escape_the_acl(home_dir: Path) -> None:
    (home_dir / "mosquitto" / "users").write_text("zendure\nevil/+\n")
    result = subprocess.run(
        [home_dir / "scripts" / "broker-users"], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "invalid username 'evil/+'" in result.stderr
    assert not (home_dir / "mosquitto" / "passwd").exists()


def production_config(root: Path, broker: Broker) -> Path:
    """mosquitto.conf as compose runs it, with only paths and the listener changed."""
    text = (root / "mosquitto" / "mosquitto.conf").read_text()
    text, moved = re.subn(r"/mosquitto/config/", f"{root}/mosquitto/", text)
    assert moved >= 2, "password_file and acl_file under /mosquitto/config"
    (root / "data").mkdir()
    text = text.replace("/mosquitto/data/", f"{root}/data/")
    text, moved = re.subn(r"(?m)^listener 1883$", f"listener {broker.port} 127.0.0.1", text)
    assert moved == 1
    text = text.replace("log_dest stdout", f"log_dest file {broker.workdir / 'mosquitto.log'}")
    conf = root / "mosquitto-test.conf"
    # as root, mosquitto would drop to user `mosquitto`, who cannot read the temp folder
    conf.write_text(f"user {getpass.getuser()}\n{text}")
    return conf


def started(home_dir: Path, tmp_path: Path) -> Iterator[tuple[Broker, Path]]:
    broker_users(home_dir)
    b = Broker(tmp_path / "broker")
    b.workdir.mkdir()
    b.start(production_config(home_dir, b))
    yield b, home_dir
    b.stop()


@pytest.fixture
def home_broker(home_dir: Path, tmp_path: Path) -> Iterator[tuple[Broker, Path]]:
    yield from started(home_dir, tmp_path)


@pytest.fixture
def shelly_home_broker(home_dir: Path, tmp_path: Path) -> Iterator[tuple[Broker, Path]]:
    """The same, with the Shelly devices' user enabled as users.example describes."""
    mosquitto = home_dir / "mosquitto"
    example = (mosquitto / "users.example").read_text()
    (mosquitto / "users").write_text(example + "shelly-grid-meter\n")
    yield from started(home_dir, tmp_path)


@pytest.fixture
def charger_home_broker(home_dir: Path, tmp_path: Path) -> Iterator[tuple[Broker, Path]]:
    """The same, with the example charger's own user enabled as users.example describes."""
    mosquitto = home_dir / "mosquitto"
    example = (mosquitto / "users.example").read_text()
    (mosquitto / "users").write_text(example + "smartevse-garage\n")
    yield from started(home_dir, tmp_path)


def client(broker: Broker, root: Path | None, user: str | None) -> aiomqtt.Client:
    password = None
    if root is not None and user is not None:
        password = (root / "secrets" / f"{user}.password").read_text().strip()
    return aiomqtt.Client(
        "127.0.0.1", broker.port, username=user, password=password, identifier=f"t-{user}"
    )


async def test_production_config_refuses_anonymous_and_wrong_passwords(
    home_broker: tuple[Broker, Path],
) -> None:
    broker, _ = home_broker
    with pytest.raises(aiomqtt.MqttError):
        async with client(broker, None, None):
            pass
    wrong = aiomqtt.Client("127.0.0.1", broker.port, username="zendure", password="guess")
    with pytest.raises(aiomqtt.MqttError):
        async with wrong:
            pass


@pytest.fixture
async def homeassistant(home_broker: tuple[Broker, Path]) -> AsyncIterator[Observer]:
    broker, root = home_broker
    async with client(broker, root, "homeassistant") as c, observing(c, "wattbus/#") as seen:
        yield seen


async def test_generated_logins_work_and_the_acl_keeps_a_bridge_to_its_topics(
    home_broker: tuple[Broker, Path], homeassistant: Observer
) -> None:
    broker, root = home_broker
    async with client(broker, root, "zendure") as zendure:
        # denied first, allowed second: the allowed one arriving alone shows the denial
        await zendure.publish("wattbus/grid-meter/state", b'{"forged":true}', qos=1)
        await zendure.publish("wattbus/zendure/state", b'{"own":true}', qos=1)
    got = await homeassistant.wait_for("wattbus/zendure/state")
    assert got.payload == b'{"own":true}'
    assert [m.topic for m in homeassistant.messages] == ["wattbus/zendure/state"]


async def bridge_stays_connected(broker: Broker, root: Path, *, intruder: str) -> None:
    """`intruder` connects with the Zendure bridge's client id, then with its username as one;
    the bridge is still connected after (its retained will never fired)."""
    will = aiomqtt.Will("wattbus/zendure/availability", b"offline", qos=1, retain=True)
    bridge = aiomqtt.Client(
        "127.0.0.1", broker.port, username="zendure", identifier="wattbus-zendure", will=will,
        password=(root / "secrets" / "zendure.password").read_text().strip(),
    )  # fmt: skip
    secret = (root / "secrets" / f"{intruder}.password").read_text().strip()
    async with bridge:
        for stolen in ("wattbus-zendure", "zendure"):
            other = aiomqtt.Client("127.0.0.1", broker.port, username=intruder, password=secret,
                                   identifier=stolen)  # fmt: skip
            async with other:
                pass
        async with client(broker, root, "homeassistant") as c, observing(c, "wattbus/#") as seen:
            await bridge.publish("wattbus/zendure/state", b'{"still":"here"}', qos=1)
            await seen.wait_for("wattbus/zendure/state")
    # the will is retained: published at a takeover, it would be here before the state
    topics = [m.topic for m in seen.messages]
    assert "wattbus/zendure/availability" not in topics, "the bridge was pushed off"


async def test_no_user_can_take_over_a_services_connection(
    shelly_home_broker: tuple[Broker, Path],
) -> None:
    """A second connection with a client id already in use pushes the first off the broker.
    Bridge client ids are easy to guess, and the Shelly devices' shared password was enough to
    kick the Zendure bridge off (commands lost, the battery held on). The broker now makes a
    connection's client id its username."""
    await bridge_stays_connected(*shelly_home_broker, intruder="shelly-grid-meter")


async def test_shelly_devices_read_nothing(shelly_home_broker: tuple[Broker, Path]) -> None:
    """The devices' shared user may publish its readings and read nothing, not even the
    `homeassistant/status` that a pattern gives every other user."""
    broker, root = shelly_home_broker
    async with (
        client(broker, root, "shelly-grid-meter") as device,
        client(broker, root, "homeassistant") as homeassistant,
    ):
        await device.subscribe("homeassistant/status", qos=1)
        await homeassistant.publish("homeassistant/status", b"online", qos=1)
        # a round trip of the device's own: anything the broker sent it before is queued now
        await device.publish("shelly/grid-meter/online", b"true", qos=1)
        assert len(device.messages) == 0


def a_devices_topics(user: str) -> list[str]:
    """What the ACL's patterns give every user: a bridge's own topics, and its Home Assistant
    device. Under any other user's name they would be a device of that name."""
    own = [f"wattbus/{user}/{leaf}" for leaf in ("state", "availability", "event", "health")]
    return [*own, f"homeassistant/device/{user}/config"]


async def forges_nothing(
    broker: Broker, root: Path, user: str, allowed: tuple[str, bytes] | None = None
) -> None:
    """`user` publishes to a device's topics under its own name, then to `allowed` (or, when
    it may publish nothing a reader sees, nothing): only that one arrives."""
    reader = "homeassistant" if user == "owner" else "owner"  # one connection per user
    async with (
        client(broker, root, reader) as owner,
        observing(owner, "#") as seen,
        client(broker, root, user) as forger,
    ):
        for topic in a_devices_topics(user):
            await forger.publish(topic, b'{"forged":true}', qos=1, retain=True)
        if allowed is None:  # the owner's own round trip then marks the end
            allowed = ("wattbus/zendure/set", b'{"min_soc":20}')
            await owner.publish(*allowed, qos=1)
        else:
            await forger.publish(*allowed, qos=1)
        await seen.wait_for(allowed[0])
    assert [m.topic for m in seen.messages] == [allowed[0]]


async def test_a_shelly_device_cannot_pose_as_a_wattbus_device(
    shelly_home_broker: tuple[Broker, Path],
) -> None:
    """The patterns that give each bridge its own topics gave the devices' user
    wattbus/shelly-grid-meter/... and a Home Assistant device of that name."""
    broker, root = shelly_home_broker
    await forges_nothing(broker, root, "shelly-grid-meter", ("shelly/grid-meter/online", b"true"))


async def test_a_charger_cannot_pose_as_a_wattbus_device(
    charger_home_broker: tuple[Broker, Path],
) -> None:
    broker, root = charger_home_broker
    await forges_nothing(broker, root, "smartevse-garage", ("SmartEVSE/garage/Mode", b"Smart"))


@pytest.mark.parametrize("user", ["homeassistant", "nodered", "cli", "owner"])
async def test_a_program_that_sends_commands_cannot_pose_as_a_wattbus_device(
    home_broker: tuple[Broker, Path], user: str
) -> None:
    broker, root = home_broker
    await forges_nothing(broker, root, user)


async def test_a_charger_writes_only_under_its_prefix_and_reads_only_its_commands(
    charger_home_broker: tuple[Broker, Path],
) -> None:
    """The charger's login cannot pose as a wattbus device or as another charger, and it
    hears its own Set/ topics and no wattbus command."""
    broker, root = charger_home_broker
    async with (
        client(broker, root, "owner") as owner,
        observing(owner, "#") as seen,
        client(broker, root, "smartevse-garage") as charger,
    ):
        await charger.subscribe("SmartEVSE/garage/Set/#", qos=1)
        await charger.subscribe("wattbus/#", qos=1)
        await owner.publish("wattbus/zendure/set", b'{"min_soc":20}', qos=1)
        await owner.publish("SmartEVSE/garage/Set/Mode", b"Smart", qos=1)
        # denied first, allowed last: the allowed one arriving alone shows the denials
        await charger.publish("wattbus/smartevse/state", b'{"charging":true}', qos=1)
        await charger.publish("SmartEVSE/other/Mode", b"Normal", qos=1)
        await charger.publish("SmartEVSE/garage/Mode", b"Smart", qos=1)
        await seen.wait_for("SmartEVSE/garage/Mode")
        # its own publish was a round trip: what the broker sent it before is queued now
        heard = [str((await anext(charger.messages)).topic) for _ in range(len(charger.messages))]
    assert [m.topic for m in seen.messages] == [
        "wattbus/zendure/set",
        "SmartEVSE/garage/Set/Mode",
        "SmartEVSE/garage/Mode",
    ]
    assert heard == ["SmartEVSE/garage/Set/Mode"]


async def test_the_smartevse_bridge_writes_only_its_chargers_set_topics(
    charger_home_broker: tuple[Broker, Path],
) -> None:
    """The bridge commands its own charger and can neither forge the charger's readings nor
    command another charger."""
    broker, root = charger_home_broker
    async with (
        client(broker, root, "owner") as owner,
        observing(owner, "SmartEVSE/#") as seen,
        client(broker, root, "smartevse") as bridge,
    ):
        await bridge.publish("SmartEVSE/garage/MainsCurrentL1", b"-50", qos=1)
        await bridge.publish("SmartEVSE/other/Set/MainsMeter", b"10:10:10", qos=1)
        await bridge.publish("SmartEVSE/garage/Set/MainsMeter", b"30:20:-50", qos=1)
        got = await seen.wait_for("SmartEVSE/garage/Set/MainsMeter")
    assert got.payload == b"30:20:-50"
    assert [m.topic for m in seen.messages] == ["SmartEVSE/garage/Set/MainsMeter"]


async def test_the_smartevse_bridge_reads_its_charger_and_the_devices_it_feeds_from(
    charger_home_broker: tuple[Broker, Path],
) -> None:
    """The feed needs the charger's own topics and the meter's and battery's state and
    availability (compose's defaults: grid-meter, and zendure in .env.example's example)."""
    broker, root = charger_home_broker
    sources = {
        "smartevse-garage": ["SmartEVSE/garage/connected"],
        "grid-meter": ["wattbus/grid-meter/state", "wattbus/grid-meter/availability"],
        "zendure": ["wattbus/zendure/state", "wattbus/zendure/availability"],
    }
    async with client(broker, root, "smartevse") as bridge:
        for topics in sources.values():
            for topic in topics:
                await bridge.subscribe(topic, qos=1)
        async with observing(bridge, "SmartEVSE/garage/Set/#") as seen:
            for user, topics in sources.items():
                async with client(broker, root, user) as source:
                    for topic in topics:
                        await source.publish(topic, b"online", qos=1, retain=True)
            # the bridge's own command, last: anything it could read has come before it
            await bridge.publish("SmartEVSE/garage/Set/MainsMeter", b"0:0:0", qos=1)
            await seen.wait_for("SmartEVSE/garage/Set/MainsMeter")
    expected = [topic for topics in sources.values() for topic in topics]
    assert [m.topic for m in seen.messages] == [*expected, "SmartEVSE/garage/Set/MainsMeter"]


def has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def system_broker(home_dir: Path, tmp_path: Path) -> Iterator[tuple[Broker, Path]]:
    """A Mosquitto outside Docker, as Debian runs it: started as root, serving as its own
    `mosquitto` user, with the logins installed the way docs/running-at-home.md says."""
    if os.geteuid() != 0 or not has_user("mosquitto"):
        pytest.skip("needs root and a mosquitto user (Debian's mosquitto package)")
    broker_users(home_dir)
    etc = Path(tempfile.mkdtemp(prefix="wattbus-etc-"))  # like /etc/mosquitto: reachable by all
    etc.chmod(0o755)
    try:
        for mode, name, target in (
            ("0640", "passwd", "wattbus.passwd"),
            ("0644", "acl", "wattbus.acl"),
        ):
            subprocess.run(
                ["install", "-m", mode, "-o", "root", "-g", "mosquitto",
                 home_dir / "mosquitto" / name, etc / target],
                check=True,
            )  # fmt: skip
        b = Broker(tmp_path / "broker")
        b.workdir.mkdir()
        conf = etc / "wattbus.conf"
        conf.write_text(
            f"user mosquitto\nlistener {b.port} 127.0.0.1\nallow_anonymous false\n"
            "use_username_as_clientid true\n"  # the guide's line, as in mosquitto.conf
            f"password_file {etc}/wattbus.passwd\nacl_file {etc}/wattbus.acl\nlog_dest stderr\n"
        )
        b.start(conf)
        yield b, home_dir
        b.stop()
    finally:
        shutil.rmtree(etc)


async def test_outside_docker_the_guides_install_lets_mosquitto_read_the_logins(
    system_broker: tuple[Broker, Path],
) -> None:
    """broker-users keeps mosquitto/passwd private (0600, yours); a Mosquitto serving as its
    own user opens the copy the guide installs (0640, group mosquitto), not world-readable."""
    broker, root = system_broker
    async with client(broker, root, "homeassistant") as c, observing(c, "wattbus/#") as seen:
        await seen.publish("wattbus/zendure/set", {"hold": True})
        await seen.wait_for("wattbus/zendure/set")


async def test_outside_docker_no_user_can_take_over_a_services_connection(
    system_broker: tuple[Broker, Path],
) -> None:
    """The guide's own Mosquitto keeps the promise compose's does: another login using the
    bridge's client id (or its username as one) leaves the bridge connected."""
    await bridge_stays_connected(*system_broker, intruder="owner")
