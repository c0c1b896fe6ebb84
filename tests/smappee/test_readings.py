"""A Smappee block as a `MeterState`: Wh per 5 minutes x 12 = W, grid = consumption - solar
(import > 0), the block's own timestamp, and what it does not carry left out, never 0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wattbus_smappee.readings import Block, blocks, latest_complete, meter_state

# the sample from the API's test resources (docs/devices/smappee.md)
SAMPLE = {"serviceLocationId": 123, "consumptions": [
    {"timestamp": 1372672500000, "consumption": 23, "solar": 56, "alwaysOn": 12},
    {"timestamp": 1372672800000, "consumption": 67, "solar": 57, "alwaysOn": 12},
]}  # fmt: skip
SECOND = datetime.fromtimestamp(1372672800, UTC)


def test_the_sample_block_in_watts_with_its_own_time() -> None:
    found = blocks(SAMPLE)
    state = meter_state(found[-1])
    assert state is not None
    assert state.ts == SECOND
    assert (state.power, state.load_power, state.pv_power, state.always_on) == (
        120.0, 804.0, 684.0, 144.0
    )  # fmt: skip
    assert state.span == 300.0


def test_more_solar_than_use_is_export() -> None:
    state = meter_state(blocks(SAMPLE)[0])
    assert state is not None and state.power == (23 - 56) * 12


def test_without_solar_the_use_is_the_import_and_solar_stays_unknown() -> None:
    state = meter_state(Block(SECOND, consumption=50.0))
    assert state is not None
    assert (state.power, state.load_power, state.pv_power, state.always_on) == (
        600.0, 600.0, None, None
    )  # fmt: skip


def test_grid_import_and_export_are_used_when_both_are_sent() -> None:
    block = Block(SECOND, consumption=67, solar=57, grid_import=20, grid_export=5)
    state = meter_state(block)
    assert state is not None and state.power == 180.0


def test_a_block_without_consumption_gives_no_state() -> None:
    assert meter_state(Block(SECOND, consumption=None, solar=10)) is None


def test_the_latest_complete_block_is_taken_and_one_still_running_is_not() -> None:
    found = blocks(SAMPLE)
    assert latest_complete(found, SECOND + timedelta(seconds=299)) == found[0]
    assert latest_complete(found, SECOND + timedelta(seconds=300)) == found[1]
    assert latest_complete(found, SECOND) == found[0]
    assert latest_complete(found, SECOND - timedelta(seconds=1)) is None


def test_entries_without_a_timestamp_or_with_text_values_are_not_guessed() -> None:
    body = {"consumptions": [{"consumption": 5}, {"timestamp": 1372672800000,
                                                  "consumption": "5", "solar": True}]}  # fmt: skip
    [block] = blocks(body)
    assert (block.consumption, block.solar) == (None, None)
