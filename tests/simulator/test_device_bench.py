"""The device bench (bench/devices.py) with tiny counts: each bridge runs as a process against
its fake through the bench's own Mosquitto, and every row it prints has figures that can be
true. The SolarEdge bridge keeps one Modbus connection and reads each scale factor with its
value, which the bench prints rather than asserts."""

from __future__ import annotations

import math
import re

from devices import measure


async def test_each_bridge_gives_its_figures() -> None:
    kind, results = await measure(commands=3, polls=1, gap=0.0, warm_up=False)

    assert kind == "mosquitto"
    assert [f.title.split()[0] for f in results] == ["NRGKICK", "SolarEdge", "Kasa"]
    for figures in results:
        for row, values in figures.rows.items():
            assert values and all(0 < v < 5000 and math.isfinite(v) for v in values), row
        assert 30 < figures.imports_mib <= figures.peak_mib < 200, figures.title
        assert any("the floor's" in note for note in figures.notes), figures.notes
    solaredge = " ".join(results[1].notes)
    assert "(0 more opened meanwhile)" in solaredge, solaredge
    together = re.search(r"meter power .* in the same request: (\d+) of the (\d+)", solaredge)
    assert together and together[1] == together[2] != "0", solaredge
