"""The fake's car: it plugs in, charges as the mode and the sun allow, pauses, finishes."""

from __future__ import annotations

from wattbus_simulator.fake_myenergi import (
    BOOST,
    COMPLETED,
    ECO,
    ECO_PLUS,
    FAST,
    SET_MODE,
    STOPPED,
    ZappiState,
)


def test_a_car_plugged_in_fast_charges_at_full_power() -> None:
    z = ZappiState(mode=FAST)
    assert z.status()["pst"] == "A"
    z.plug()
    assert (z.status()["pst"], z.status()["div"]) == ("C2", 7360)
    z.advance(3600)
    assert z.status()["che"] == 7.36


def test_eco_plus_waits_for_surplus_and_eco_keeps_the_least() -> None:
    z = ZappiState(mode=ECO_PLUS)
    z.plug()
    assert (z.status()["pst"], z.status()["div"]) == ("C1", 0)
    z.surplus = 3000
    assert (z.status()["pst"], z.status()["div"]) == ("C2", 3000)
    z.surplus = 0
    z.command(ECO, SET_MODE, 0, "0000")
    assert (z.status()["pst"], z.status()["div"]) == ("C2", 1380)


def test_stopped_is_connected_and_idle() -> None:
    z = ZappiState(mode=STOPPED)
    z.plug()
    assert (z.status()["pst"], z.status()["div"]) == ("B1", 0)


def test_a_boost_charges_its_kwh_then_ends() -> None:
    z = ZappiState(mode=ECO_PLUS)
    z.plug()
    z.command(0, BOOST, 2, "0000")
    assert (z.status()["pst"], z.status()["bsm"], z.status()["sta"]) == ("C2", 1, 4)
    z.advance(3600 * 2 / 7.36)
    assert (z.status()["pst"], z.status()["bsm"]) == ("C1", 0)


def test_a_boost_in_fast_is_ignored() -> None:
    z = ZappiState(mode=FAST)
    z.command(0, BOOST, 5, "0000")
    assert z.status()["bsm"] == 0


def test_a_full_car_finishes() -> None:
    z = ZappiState(mode=FAST, capacity=1.0)
    z.plug()
    z.advance(3600)
    assert (z.status()["pst"], z.status()["sta"], z.status()["div"]) == ("B2", COMPLETED, 0)
