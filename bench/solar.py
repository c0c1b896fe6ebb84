"""Solar tracking: how much of a car's charge each rule set takes from the sun, and at what cost,
on the simulator's reference days.

Each day (`wattbus_simulator.solar_day.reference_day`, seeded) has an 8 kW array under a clear,
broken or overcast sky, a house with appliances coming and going, a 10 kWh house battery in
self-consumption, and a car that arrives at 10:00 wanting 20 kWh. `solar_run.run` steps it
every 2 s from 06:00 to 20:00 through each rule set, which sees the readings of the step
before, as a controller on the bus does:

- **wattbus**: the controller's charging policy (`tracked`), its default settings with the
  array's peak for cloud detection, the surplus as the controller works it out;
- **baseline**, **evcc**, **openWB**: `solar_peers.py`, each modelled on its documented
  defaults (the sources and the assumptions are in each one's docstring);
- **oracle**: perfect foresight under the same 6 A minimum, whole amps and phases: the limit.

Each with 3 fixed phases and, where it switches, with 1/3 switching. Per day, the figures
(kWh): into the car, of it from the sun, grid import and house-battery discharge while the car
charges, exported while it waits; current changes and start/stop cycles. Plug hours on surplus
come from a second run of wattbus with a 2 kW heating rod on a smart plug in the house,
switched by the controller's plug policy, car first (`solar_plug.py`): the hours it ran while
the home took nothing from the grid or the house battery, and what the car got meanwhile; no
peer's plug control is modelled. Then a verdict per goal and phase option, against the peers
with the same option (the baseline, which never switches, with 3 phases): less grid import
than every peer (within a Wh is a tie, as where none imports); no more cycles than the best
peer; solar kWh into the car within 10 % of the oracle's.

    uv run python bench/solar.py [--seeds 3]     # 3 skies x 3 seeds, about 30 s
    uv run python bench/solar.py --quick         # one day (broken cloud, seed 1), a few seconds
    uv run python bench/solar.py --set stop_delay=60 --set start_delay=120  # wattbus variants
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from solar_peers import Baseline, Evcc, OpenWB, Oracle, foresight
from solar_plug import ROD, WattbusWithPlug, with_plug
from wattbus_controller.charging import ChargerSettings, ChargingSettings
from wattbus_controller.phases import PhaseChoice
from wattbus_simulator.solar_day import Sky, SolarDay, reference_day
from wattbus_simulator.solar_run import CHARGER, Figures, Rules, WattbusRules, run

DT = 2.0  # s per step
START, END = 6 * 3600.0, 20 * 3600.0
PV_PEAK = 8000.0  # W: the reference array, which the owner tells wattbus for cloud detection
SOLAR_SHARE = 0.9  # of the oracle's solar kWh: the goal
SAME = 0.001  # kWh: imports closer than a Wh are the same
OPTIONS: tuple[tuple[str, PhaseChoice], ...] = (("3 phases", 3), ("1/3 switching", "auto"))
DEFAULTS = ChargingSettings(chargers={}, pv_peak=PV_PEAK)  # wattbus's, the chargers per row


Kind = Literal["peer", "wattbus", "oracle"]


@dataclass(frozen=True)
class Row:
    name: str
    phases: PhaseChoice
    kind: Kind
    figures: Figures


@dataclass(frozen=True)
class PlugRow:
    """wattbus on the same day with the rod on a plug too: the car's figures and the rod's."""

    phases: PhaseChoice
    figures: Figures
    hours_on: float
    hours_on_surplus: float


def wattbus(settings: ChargingSettings, phases: PhaseChoice) -> WattbusRules:
    chargers = {CHARGER: ChargerSettings(phases=phases)}
    return WattbusRules(dataclasses.replace(settings, chargers=chargers))


def plug_rows(
    sky: Sky, seed: int, settings: ChargingSettings, start: float = START, end: float = END
) -> list[PlugRow]:
    rows = []
    for phases in (3, "auto"):
        day = reference_day(sky, seed, PV_PEAK)
        rules = WattbusWithPlug(wattbus(settings, phases), with_plug(day, seed))
        figures = run(day, rules, DT, start, end)
        rows.append(PlugRow(phases, figures, rules.hours_on, rules.hours_on_surplus))
    return rows


def day_rows(
    sky: Sky, seed: int, settings: ChargingSettings, start: float = START, end: float = END
) -> list[Row]:
    """Every rule set through its own copy of the day, with each phase option it has."""

    def fresh() -> SolarDay:
        return reference_day(sky, seed, PV_PEAK)

    ahead = foresight(fresh(), DT, start, end)
    makers: list[tuple[str, Kind, Callable[[PhaseChoice], Rules], tuple[PhaseChoice, ...]]] = [
        ("baseline", "peer", lambda p: Baseline(p), (3,)),
        ("evcc", "peer", lambda p: Evcc(p), (3, "auto")),
        ("openWB", "peer", lambda p: OpenWB(p), (3, "auto")),
        ("wattbus", "wattbus", lambda p: wattbus(settings, p), (3, "auto")),
        ("oracle", "oracle", lambda p: Oracle(ahead, start, DT, p), (3, "auto")),
    ]
    return [
        Row(name, phases, kind, run(fresh(), make(phases), DT, start, end))
        for name, kind, make, options in makers
        for phases in options
    ]


def label(phases: PhaseChoice) -> str:
    return "1/3" if phases == "auto" else str(phases)


COLUMNS: tuple[tuple[str, Callable[[Figures], str]], ...] = (
    ("car kWh", lambda f: f"{f.car:.2f}"),
    ("solar kWh", lambda f: f"{f.car_solar:.2f}"),
    ("grid kWh", lambda f: f"{f.grid_import:.2f}"),
    ("battery kWh", lambda f: f"{f.battery_discharge:.2f}"),
    ("changes", lambda f: str(f.changes)),
    ("cycles", lambda f: str(f.cycles)),
    ("exported kWh", lambda f: f"{f.exported:.2f}"),
)
PLUG_HEAD = "plug h on surplus"  # wattbus's, from its run with the rod; no peer's is modelled


def table(rows: list[Row], plugs: list[PlugRow]) -> None:
    widths = [max(10, len(head) + 2) for head, _ in COLUMNS]
    heads = "".join(f"{head:>{w}}" for (head, _), w in zip(COLUMNS, widths, strict=True))
    print(f"  {'rule set':<9}{'phases':>7}{heads}{PLUG_HEAD:>19}")
    for r in rows:
        cells = (f"{cell(r.figures):>{w}}" for (_, cell), w in zip(COLUMNS, widths, strict=True))
        hours = next((p.hours_on_surplus for p in plugs if p.phases == r.phases), None)
        plug = f"{hours:.2f}" if r.kind == "wattbus" and hours is not None else "n/a"
        print(f"  {r.name:<9}{label(r.phases):>7}{''.join(cells)}{plug:>19}")
    for p in plugs:
        alone = next(r.figures for r in rows if r.kind == "wattbus" and r.phases == p.phases)
        f = p.figures
        print(f"  wattbus {label(p.phases)} with the {ROD / 1000:g} kW rod on its plug rules: on "
              f"{p.hours_on:.2f} h, {p.hours_on_surplus:.2f} h of it on surplus; the car "
              f"{f.car:.2f} kWh ({alone.car:.2f} without the rod), {f.car_solar:.2f} from the sun "
              f"({alone.car_solar:.2f}), grid {f.grid_import:.2f}, battery "
              f"{f.battery_discharge:.2f}")  # fmt: skip


Outcome = Literal["met", "tied", "missed"]


@dataclass(frozen=True)
class Verdict:
    goal: str
    outcome: Outcome
    text: str


def outcome(met: bool, tied: bool = False) -> Outcome:
    return "met" if met else "tied" if tied else "missed"


def verdicts(rows: list[Row], phases: PhaseChoice) -> list[Verdict]:
    """The three goals for wattbus with `phases`, against the peers and the oracle with the
    same option: the baseline, which never switches, is a peer of the 3 phases only. Imports
    within a Wh of each other are a tie (as where none imports at all)."""
    ours = next(r for r in rows if r.kind == "wattbus" and r.phases == phases)
    oracle = next(r for r in rows if r.kind == "oracle" and r.phases == phases)
    peers = [r for r in rows if r.kind == "peer" and r.phases == phases]
    low = min(peers, key=lambda r: r.figures.grid_import)
    few = min(peers, key=lambda r: r.figures.cycles)
    f, o = ours.figures, oracle.figures
    share = f.car_solar / o.car_solar if o.car_solar else 1.0
    least = low.figures.grid_import
    imp = outcome(f.grid_import < least - SAME, abs(f.grid_import - least) < SAME)
    cyc = outcome(f.cycles <= few.figures.cycles)
    sol = outcome(share >= SOLAR_SHARE)
    return [
        Verdict("less grid import than every peer", imp,
                f"wattbus {f.grid_import:.3f} kWh, lowest peer {low.figures.grid_import:.3f} "
                f"({low.name} {label(low.phases)})"),
        Verdict("no more cycles than the best peer", cyc,
                f"wattbus {f.cycles}, best peer {few.figures.cycles} "
                f"({few.name} {label(few.phases)})"),
        Verdict(f"solar kWh within {1 - SOLAR_SHARE:.0%} of the oracle's", sol,
                f"wattbus {f.car_solar:.2f}, oracle {o.car_solar:.2f}: {share:.1%}"),
    ]  # fmt: skip


def overrides(pairs: list[str], parser: argparse.ArgumentParser) -> ChargingSettings:
    """wattbus's settings with `FIELD=VALUE` changes, for experiments without editing code."""
    names = {f.name for f in dataclasses.fields(ChargingSettings)} - {"chargers"}
    changes: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in names:
            parser.error(f"--set {pair}: not a ChargingSettings field ({', '.join(sorted(names))})")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0:
            parser.error(f"--set {pair}: {value!r} is not a number of 0 or more")
        changes[name] = number
    return dataclasses.replace(DEFAULTS, **changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per sky (1..N)")
    parser.add_argument("--quick", action="store_true", help="one day: broken cloud, seed 1")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a wattbus ChargingSettings field for this run")  # fmt: skip
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be 1 or more")
    settings = overrides(args.set, parser)
    days = [(Sky.BROKEN, 1)] if args.quick else [
        (sky, seed) for sky in Sky for seed in range(1, args.seeds + 1)
    ]  # fmt: skip
    changed = ", ".join(args.set) or "defaults"
    print(f"solar tracking: {len(days)} day(s), a step every {DT:g} s, 06:00-20:00, the car "
          f"plugged in at 10:00 wanting 20 kWh; wattbus: {changed}")  # fmt: skip
    tally: dict[tuple[str, str], list[Outcome]] = {}
    for sky, seed in days:
        rows = day_rows(sky, seed, settings)
        print(f"\n{sky.value} sky, seed {seed}")
        table(rows, plug_rows(sky, seed, settings))
        for option, phases in OPTIONS:
            for v in verdicts(rows, phases):
                tally.setdefault((option, v.goal), []).append(v.outcome)
                print(f"  {option}: {v.goal}: {v.outcome} ({v.text})")
    print(f"\nover the {len(days)} day(s):")
    for (option, goal), outcomes in tally.items():
        counts = ", ".join(f"{o} {outcomes.count(o)}" for o in ("met", "tied", "missed"))
        print(f"  {option}: {goal}: {counts}")


if __name__ == "__main__":
    main()
