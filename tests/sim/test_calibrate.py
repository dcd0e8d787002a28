"""`asrlab calibrate --remedy NAME --bundled`: a remedy's measured costs into the bundled table,
and the bundled table holding the costs of the remedy the lab recommends."""

from __future__ import annotations

import pandas as pd
import pytest
from test_core import INCIDENT_COSTS, table
from typer.testing import CliRunner

from asrlab.cli.main import app
from asrlab.service.remedies import remedy
from asrlab.sim import calibrate, costs
from asrlab.workload.traffic import DEFAULT_MIX

KEYS = ["model", "compute_type", "decode_hash", "vad_gate"]
# The one command that measures a remedy's costs into the bundled table (docs/results/simulator.md)
MEASURE = "asrlab calibrate --remedy recommended --jobs 36 --bundled"


def _service(t: pd.DataFrame, name: str) -> pd.DataFrame:
    r = remedy(name)
    at = (t["decode_hash"].astype(str) == r.decode.config_hash()) & (
        t["vad_gate"].astype(bool) == r.vad_gate
    )
    return t[at & (t["model"] == "base") & (t["compute_type"] == "float32")]


def test_the_bundled_table_measures_the_recommended_remedy() -> None:
    """`asrlab simulate --preset recommended` draws from these rows: when the pick changes,
    measure the new one's (its decode options hash to a service the table does not have)."""
    rows = _service(costs.load(), "recommended")
    jobs = rows[rows["kind"] == "job"]
    assert len(jobs) >= 24, f"no measured costs for the recommended remedy: run `{MEASURE}`"
    assert set(jobs["source"]) == {m.source for m in DEFAULT_MIX}  # every item of the mix
    assert (rows["kind"] == "respawn").any()  # hard_kill pays a worker's restart
    assert set(jobs["measured_by"].str.split().str[0]) == {"calibrate"}


@pytest.mark.parametrize("name", ["recommended", "incident"])
def test_calibrate_bundled_adds_a_remedys_rows_or_replaces_its_own(
    name: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = tmp_path / "service_times.csv"
    original = costs.BUNDLED.read_text().splitlines()
    bundled.write_text(costs.BUNDLED.read_text())
    before = costs.load(bundled)
    monkeypatch.setattr(costs, "BUNDLED", bundled)
    measured = _service(table(INCIDENT_COSTS), name).assign(measured_by="calibrate seed=1000")
    asked: list[str] = []

    def fake(config, *, n_jobs: int, seed: int):  # the measuring itself: tests/sim/test_core
        asked.append(config.remedy)
        return measured

    monkeypatch.setattr(calibrate, "calibrate", fake)
    result = CliRunner().invoke(app, ["calibrate", "--remedy", name, "--jobs", "6", "--bundled"])
    assert result.exit_code == 0, result.output
    assert asked == [name]
    after = costs.load(bundled)
    # The remedy's service holds the new rows alone; every other service's rows are as they were,
    # to the character (the committed table's diff is the remedy's rows).
    mine = _service(after, name)
    assert len(mine) == len(measured) and set(mine["measured_by"]) == {"calibrate seed=1000"}
    hash_ = remedy(name).decode.config_hash()
    lines = bundled.read_text().splitlines()
    others = [line for line in lines if f",{hash_}," not in line]
    assert others == [line for line in original if f",{hash_}," not in line]
    assert len(after) == len(before) - len(_service(before, name)) + len(measured)
