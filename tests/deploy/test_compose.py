"""compose.yaml's promises that no engine is needed to check: what each container runs exists in
the image, and each service logs in as the user the ACL expects of it.

The ACL (mosquitto/acl) gives a bridge its own topics through `%u`, so a bridge whose MQTT
username is not its device id would be locked out of its topics, or, with another bridge's
login, write that bridge's topics. These tests keep compose.yaml, mosquitto/users.example,
the Dockerfile and the registered services in step.
"""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from typing import Any

import pytest
import yaml
from support.broker import REPO
from wattbus.service import NOT_SETTINGS, service, service_names
from wattbus.settings import BusSettings, ServiceSettings

COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
WATTBUS = {
    name: svc for name, svc in COMPOSE["services"].items() if svc.get("command", [None])[0] == "run"
}
DEVICE_ID_SETTING = {
    "shelly": "WATTBUS_SHELLY_ID",
    "zendure": "WATTBUS_ZENDURE_ID",
    "smartevse": "WATTBUS_SMARTEVSE_ID",
    "myenergi": "WATTBUS_MYENERGI_ID",
    "kraken": "WATTBUS_KRAKEN_ID",
    "powerwall": "WATTBUS_POWERWALL_ID",
    "solaredge": "WATTBUS_SOLAREDGE_METER_ID",  # its battery and inverter: their own secrets
    "kasa": "WATTBUS_KASA_ID",
    "smappee": "WATTBUS_SMAPPEE_ID",
}


def users_example() -> set[str]:
    lines = (REPO / "mosquitto" / "users.example").read_text().splitlines()
    return {line.split("#", 1)[0].strip() for line in lines} - {""}


def image_packages() -> set[str]:
    found = re.search(r'^ARG PACKAGES="([^"]*)"', (REPO / "Dockerfile").read_text(), re.M)
    assert found
    return set(re.findall(r"--package (\S+)", found.group(1)))


def test_every_wattbus_container_runs_a_service_the_image_holds() -> None:
    registered = {ep.name: ep.dist for ep in entry_points(group="wattbus.services")}
    assert set(WATTBUS) >= {"controller", "shelly", "zendure", "smartevse", "powerwall"}
    for name, svc in WATTBUS.items():
        service = svc["command"][1]
        assert service in registered, f"{name}: no service {service!r}"
        dist = registered[service]
        assert dist is not None and dist.name in image_packages(), f"{name}: not in the image"


@pytest.mark.parametrize("name", sorted(WATTBUS))
def test_each_service_logs_in_as_the_acl_expects(name: str) -> None:
    svc = WATTBUS[name]
    env = svc["environment"]
    user = env["WATTBUS_MQTT_USERNAME"]
    service = svc["command"][1]
    if service in DEVICE_ID_SETTING:
        assert env[DEVICE_ID_SETTING[service]] == user, "a bridge's username is its device id"
    else:
        assert user == service  # the ACL's `user controller`
    assert user in users_example(), "make broker-users creates the users in users.example"
    # its password comes from its own secret, which make broker-users writes
    assert env["WATTBUS_MQTT_PASSWORD_FILE"] == f"/run/secrets/{user}"
    own, *device = svc["secrets"]
    assert own == user
    assert COMPOSE["secrets"][user]["file"] == f"./secrets/{user}.password"
    # any other secret is the device's, read through a setting's *_FILE (the myenergi API key)
    for secret in device:
        assert f"/run/secrets/{secret}" in [v for k, v in env.items() if k.endswith("_FILE")]
    # a further device's own login (the solaredge battery's, its inverter's): its id, a user
    # make broker-users creates, and the password that command writes for it
    for key, value in env.items():
        if key.endswith("_MQTT_PASSWORD_FILE") and key != "WATTBUS_MQTT_PASSWORD_FILE":
            device_id = env[key.removesuffix("_MQTT_PASSWORD_FILE") + "_ID"]
            assert device_id in users_example()
            assert value == f"/run/secrets/{device_id}"
            assert COMPOSE["secrets"][device_id]["file"] == f"./secrets/{device_id}.password"


@pytest.mark.parametrize("name", sorted(WATTBUS))
def test_state_lives_in_a_volume_and_the_broker_comes_first(name: str) -> None:
    svc = WATTBUS[name]
    state_dirs = {v for k, v in svc["environment"].items() if k.endswith("_STATE_DIR")}
    mounts = {m.split(":", 1)[1] for m in svc.get("volumes", [])}
    assert state_dirs <= mounts, "saved battery settings and controller memory must survive"
    # a service that keeps something must be told where: its default (`var` in the working
    # directory) is on the container's read-only root
    spec = service(svc["command"][1])
    assert spec is not None
    if "state_dir" in spec.settings.model_fields:
        prefix = str(spec.settings.model_config.get("env_prefix", "")).upper()
        assert f"{prefix}STATE_DIR" in svc["environment"], "its state would not be saved"
    assert svc["depends_on"]["mosquitto"]["condition"] == "service_healthy"
    assert svc["read_only"] is True
    assert "healthcheck" in COMPOSE["services"]["mosquitto"]


ENV_EXAMPLE = (REPO / ".env.example").read_text()


def settings_variables() -> set[str]:
    """Every variable the bus and the registered services read."""
    specs = (service(name) for name in service_names())
    classes: list[type[ServiceSettings]] = [BusSettings, *(s.settings for s in specs if s)]
    return {
        f"{str(cls.model_config.get('env_prefix', '')).upper()}{field.upper()}"
        for cls in classes
        for field in cls.model_fields
    }


def test_env_example_names_only_variables_a_setting_reads() -> None:
    """Set or commented out, a line a user uncomments must be read: a misspelt one would be
    ignored (with only a warning) and the device would run on the default."""
    named = set(re.findall(r"(?m)^#?(WATTBUS_[A-Z0-9_]+)=", ENV_EXAMPLE)) - NOT_SETTINGS
    assert {"WATTBUS_SMARTEVSE_PREFIX", "WATTBUS_SHELLY_HOST"} <= named
    assert named - settings_variables() == set()


def test_env_example_lists_every_profile_where_compose_profiles_is_set() -> None:
    profiles = {p for svc in COMPOSE["services"].values() for p in svc.get("profiles", [])}
    found = re.search(r"((?:^#.*\n)+)COMPOSE_PROFILES=", ENV_EXAMPLE, re.M)
    assert found, "COMPOSE_PROFILES with its comment"
    assert profiles == {
        "shelly", "zendure", "smartevse", "myenergi", "kraken", "powerwall", "nrgkick",
        "solaredge", "kasa", "smappee", "notify",
    }  # fmt: skip
    assert all(re.search(rf"\b{p}\b", found.group(1)) for p in profiles)
