"""Dispatches into billed windows: UTC from any offset, rounded out to half hours, merged per
kind; what runs at a moment and when that next changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from wattbus.models import DispatchKind
from wattbus_kraken.models import FlexDispatch, LegacyDispatch
from wattbus_kraken.windows import Dispatch, kwh, next_change, normalise, running

SMART, BOOST = DispatchKind.SMART, DispatchKind.BOOST
BST = timezone(timedelta(hours=1))


def t(hh: int, mm: int, day: int = 10) -> datetime:
    return datetime(2026, 6, day, hh, mm, tzinfo=UTC)


def spans(dispatches: list[Dispatch]) -> list[tuple[datetime, datetime, DispatchKind]]:
    return [(w.start, w.end, w.kind) for w in normalise(dispatches)]


def test_a_dispatch_is_rounded_out_to_the_half_hours_it_touches() -> None:
    assert spans([Dispatch(t(12, 10), t(12, 40), SMART)]) == [(t(12, 0), t(13, 0), SMART)]
    assert spans([Dispatch(t(12, 0), t(12, 30), SMART)]) == [(t(12, 0), t(12, 30), SMART)]
    # a few minutes are a whole slot
    assert spans([Dispatch(t(3, 31), t(3, 34), SMART)]) == [(t(3, 30), t(4, 0), SMART)]


def test_overlapping_and_touching_windows_of_a_kind_merge() -> None:
    merged = normalise([
        Dispatch(t(1, 0), t(1, 20), SMART, 1000.0),
        Dispatch(t(1, 40), t(2, 10), SMART, 2000.0),  # touches 1:00-1:30 once rounded
        Dispatch(t(2, 5), t(2, 50), SMART),
        Dispatch(t(4, 0), t(4, 30), SMART),  # an hour later: its own
    ])  # fmt: skip
    assert [(w.start, w.end) for w in merged] == [(t(1, 0), t(3, 0)), (t(4, 0), t(4, 30))]
    assert merged[0].energy == 3000.0
    assert merged[0].raw_end == t(2, 50)


def test_a_boost_never_merges_into_a_smart_window() -> None:
    got = spans([Dispatch(t(1, 0), t(2, 0), SMART), Dispatch(t(1, 30), t(2, 30), BOOST)])
    assert got == [(t(1, 0), t(2, 0), SMART), (t(1, 30), t(2, 30), BOOST)]


def test_a_window_across_midnight_stays_one() -> None:
    got = spans([Dispatch(t(23, 15), t(0, 45, day=11), SMART)])
    assert got == [(t(23, 0), t(1, 0, day=11), SMART)]


def test_times_with_offsets_are_read_as_utc_on_a_bst_day() -> None:
    flex = FlexDispatch.model_validate(
        {"start": "2026-06-10T23:30:00+01:00", "end": "2026-06-11T05:30:00+01:00",
         "type": "SMART", "energyAddedKwh": 12.5}
    )  # fmt: skip
    d = flex.dispatch()
    assert (d.start, d.end) == (t(22, 30), t(4, 30, day=11))
    assert d.start.tzinfo is UTC
    assert d.energy == 12500.0  # Wh


def test_the_night_the_clocks_change_is_as_long_as_it_was_meant() -> None:
    # 29 March 2026: 00:30 GMT to 03:30 BST is two hours, not three
    d = FlexDispatch.model_validate(
        {"start": "2026-03-29T00:30:00+00:00", "end": "2026-03-29T03:30:00+01:00",
         "type": "SMART"}
    ).dispatch()  # fmt: skip
    assert d.end - d.start == timedelta(hours=2)


def test_a_time_without_offset_is_refused() -> None:
    with pytest.raises(ValidationError):
        FlexDispatch.model_validate({"start": "2026-06-10T23:30:00", "end": "2026-06-11T01:00"})


def test_the_older_shape_reads_its_kind_from_meta_and_delta_as_wh() -> None:
    bump = LegacyDispatch.model_validate(
        {"start": "2026-06-10T18:00:00+01:00", "end": "2026-06-10T19:00:00+01:00",
         "delta": "-2.50", "meta": {"source": "bump-charge", "location": "AT_HOME"}}
    ).dispatch()  # fmt: skip
    assert bump.kind is BOOST and bump.energy == 2500.0
    plain = LegacyDispatch.model_validate(
        {"start": "2026-06-10T18:00:00Z", "end": "2026-06-10T19:00:00Z", "delta": 1.5}
    ).dispatch()
    assert plain.kind is SMART and plain.energy == 1500.0
    assert FlexDispatch.model_validate(
        {"start": "2026-06-10T18:00:00Z", "end": "2026-06-10T19:00:00Z", "type": "NEW"}
    ).dispatch().kind is DispatchKind.OTHER  # fmt: skip
    assert kwh(None) is None


def test_what_runs_now_prefers_the_smart_window_and_the_next_edge() -> None:
    windows = [w.published() for w in normalise(
        [Dispatch(t(1, 0), t(2, 0), SMART), Dispatch(t(1, 30), t(2, 30), BOOST)])]  # fmt: skip
    now_running = running(windows, t(1, 45))
    assert now_running is not None and now_running.kind is SMART
    boost = running(windows, t(2, 0))  # the end is not inside
    assert boost is not None and boost.kind is BOOST
    assert running(windows, t(2, 30)) is None
    assert next_change(windows, t(0, 0)) == t(1, 0)
    assert next_change(windows, t(1, 0)) == t(1, 30)
    assert next_change(windows, t(2, 30)) is None
