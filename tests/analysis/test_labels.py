"""Honest phase labels: a lithium-source voxel whose amount is 0 holds no solid, so the phase
fractions count it as pore and the figures draw it as pore, while the stored ``phase`` field
(the simulation's state) keeps the source's code until the voxel's mobile lithium is gone.

A tiny run heated to 300 C uses up its LiOH source (every LiOH and Li2O voxel left has
amount 0 and still holds mobile lithium), and those are the voxels checked here.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from mcsim import phases as ph
from mcsim.diagnostics import reported_phase
from mcsim.errors import ConfigError
from mcsim.figures import _common as C
from mcsim.figures import cross_sections
from mcsim.pores import pore_statistics

TO_C = 300.0


@pytest.fixture(scope="module")
def spent_run(tiny_run, tmp_path_factory):
    """The tiny run to 300 C, one snapshot at the end; returns the final row and snapshot."""
    path = tmp_path_factory.mktemp("labels") / "spent.h5"
    run = tiny_run(path, (f"schedule.to_c={TO_C}", f"output.snapshot_temperatures_c=[{TO_C}]"))
    with h5py.File(path, "r") as f:
        ts = f["timeseries"]
        keys = sorted(f["snapshots"])
        snaps = [{n: f["snapshots"][k][n][()] for n in ("phase", "amount", "li", "grain")}
                 for k in keys]
        last = f["snapshots"][keys[-1]]
        out = {"path": path, "run": run, "snaps": snaps,
               "row": ts["phase_fraction"][-1], "row_time": float(ts["time_s"][-1]),
               "snap_time": float(last.attrs["time_s"]),
               "attrs": dict(ts["phase_fraction"].attrs)}
    out.update(snaps[-1])
    return out


def test_the_run_leaves_used_up_source_voxels_with_mobile_lithium(spent_run):
    phase, amount, li = spent_run["phase"], spent_run["amount"], spent_run["li"]
    spent = np.isin(phase, ph.SOURCE_PHASES) & (amount == 0)
    assert np.count_nonzero(spent & (phase == ph.LI2O)) > 100  # the case the labels are for
    # the engine retires a used-up source to pore once its mobile lithium is below 0.5
    assert np.all(li[spent] >= 0.5)


def test_final_phase_fractions_count_used_up_sources_as_pore(spent_run):
    assert spent_run["row_time"] == spent_run["snap_time"]  # the row and the snapshot agree
    phase, amount = spent_run["phase"], spent_run["amount"]
    n = phase.size
    row = spent_run["row"]
    li2o_solid = np.count_nonzero((phase == ph.LI2O) & (amount > 0))
    assert row[ph.LI2O] == li2o_solid / n
    assert row[ph.LI2O] < np.count_nonzero(phase == ph.LI2O) / n  # the stored code says more
    want = np.bincount(reported_phase(phase, amount).ravel(), minlength=ph.N_PHASES) / n
    np.testing.assert_array_equal(row, want)
    spent = np.count_nonzero(np.isin(phase, ph.SOURCE_PHASES) & (amount == 0))
    assert row[ph.PORE] == (np.count_nonzero(phase == ph.PORE) + spent) / n
    assert spent_run["attrs"]["spent_sources_counted_as"] == "pore"


def test_transition_metal_voxels_never_hold_amount_zero(spent_run):
    for snap in spent_run["snaps"]:
        tm = np.isin(snap["phase"], ph.TM_PHASES)
        assert tm.any() and snap["amount"][tm].min() >= 1
        assert np.all(snap["amount"][snap["phase"] == ph.PORE] == 0)


def test_reported_phase_changes_only_used_up_sources_and_not_its_input():
    codes = np.arange(ph.N_PHASES, dtype=np.uint8)
    phase = np.concatenate([codes, codes])
    amount = np.concatenate([np.zeros(ph.N_PHASES), np.full(ph.N_PHASES, 7)]).astype(np.uint16)
    before = phase.copy()
    out = reported_phase(phase, amount)
    assert np.array_equal(phase, before)
    # with amount 0 the three sources read as pore; nothing else changes
    want = np.concatenate([[0, 0, 0, 0, 4, 5, 6], codes])
    assert np.array_equal(out, want)
    assert np.array_equal(C.shown_phase(phase, amount), out)  # the figures' own copy agrees
    assert np.array_equal(C.shown_phase(phase), phase)  # no amount field: as stored
    with pytest.raises(ValueError, match="shape"):
        reported_phase(phase, amount[:3])


def _pixels_of(png, hex_colour):
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    img = imread(png)[..., :3]
    return int(np.count_nonzero(np.all(np.abs(img - np.array(to_rgb(hex_colour))) < 1.5 / 255,
                                       axis=-1)))


def test_cross_sections_draw_used_up_sources_as_pore(spent_run, tmp_path, monkeypatch):
    z = spent_run["phase"].shape[0] // 2
    plane = spent_run["phase"][z]
    assert np.count_nonzero(plane == ph.LIOH) > 50 and np.count_nonzero(plane == ph.LI2O) > 20
    assert not np.any(np.isin(plane, ph.SOURCE_PHASES) & (spent_run["amount"][z] > 0))
    lioh, li2o = C.PHASE_COLOURS["lioh"], C.PHASE_COLOURS["li2o"]
    fixed = cross_sections.plot(spent_run["path"], tmp_path / "fixed.png")
    assert _pixels_of(fixed, lioh) == 0 and _pixels_of(fixed, li2o) == 0
    # control: drawing the stored codes shows both colours, so the check above can fail
    monkeypatch.setattr(C, "phase_slice", lambda group, k: group["phase"][k])
    raw = cross_sections.plot(spent_run["path"], tmp_path / "raw.png")
    assert _pixels_of(raw, lioh) > 100 and _pixels_of(raw, li2o) > 20


def _particle_with_spent_source():
    """A solid layered sphere (R = 12) with a 3 x 3 x 3 block of Li2O inside it (grain -1, as
    the engine tags a contact voxel on the lithium's path), used up except its centre."""
    n, radius = 30, 12.0
    c = (n - 1) / 2
    z, y, x = np.ogrid[:n, :n, :n]
    inside = (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2 <= radius * radius
    phase = np.where(inside, ph.LAYERED, ph.PORE).astype(np.uint8)
    grain = np.where(inside, 1, 0).astype(np.int32)
    amount = np.where(inside, 1000, 0).astype(np.uint16)
    block = (slice(13, 16),) * 3
    phase[block], grain[block], amount[block] = ph.LI2O, -1, 0
    amount[14, 14, 14] = 300  # the centre still holds solid Li2O
    return phase, grain, amount, (c, c, c), radius, inside


def test_pore_statistics_with_amount_counts_used_up_sources_as_pore():
    phase, grain, amount, c, r, inside = _particle_with_spent_source()
    plain = pore_statistics(phase, grain, c, r, 10.0, outline="tags")
    assert plain["pore_count"] == 0 and plain["porosity"] == 0.0
    s = pore_statistics(phase, grain, c, r, 10.0, outline="tags", amount=amount)
    assert s["pore_count"] == 1
    assert s["pores"]["volume_voxels"].tolist() == [26]  # the block less its solid centre
    assert s["porosity"] == 26 / np.count_nonzero(inside)
    assert s["intergranular_count"] == 1  # a lithium-source neighbour: not a nanopore
    with pytest.raises(ConfigError, match="amount"):
        pore_statistics(phase, grain, c, r, 10.0, amount=amount[:-1])


def test_the_runs_pore_statistics_count_used_up_sources_as_pore(spent_run):
    """/pores of the run are the statistics of the reported phases (used-up sources empty)."""
    with h5py.File(spent_run["path"], "r") as f:
        group = f["pores"][sorted(k for k in f["pores"] if k.isdigit())[-1]]
        stored = {n: float(group[n][()]) for n in ("open_count", "intergranular_count",
                                                   "porosity")}
        center = np.asarray(f["geometry/center_vox"][()], dtype=np.float64)
        radius = float(f["geometry/radius_vox"][()])
        voxel = float(f.attrs["voxel_nm"])
    args = (spent_run["phase"], spent_run["grain"], center, radius, voxel)
    honest = pore_statistics(*args, outline="tags", amount=spent_run["amount"])
    stored_code = pore_statistics(*args, outline="tags")
    for name, value in stored.items():
        assert value == float(honest[name]), name
    # the case matters: with the stored codes some pores would be classed otherwise
    assert (honest["open_count"], honest["intergranular_count"]) != (
        stored_code["open_count"], stored_code["intergranular_count"])


def test_the_porespy_local_thickness_option_reaches_the_result(tiny_run, tmp_path):
    path = tmp_path / "porespy.h5"
    tiny_run(path, (f"schedule.to_c={TO_C}", "output.snapshot_temperatures_c=[]",
                    'output.local_thickness="porespy"'))
    with h5py.File(path, "r") as f:
        voxel = float(f.attrs["voxel_nm"])
        group = f["pores"][sorted(k for k in f["pores"] if k.isdigit())[-1]]
        edges = group["local_thickness/edges_nm"][()] / voxel
    # PoreSpy's measure is an integer sphere radius r, binned as its diameter 2r
    assert edges.size > 1
    np.testing.assert_array_equal(edges, 2.0 * np.round(edges / 2.0))


def test_an_unknown_local_thickness_convention_is_refused_by_name():
    from mcsim import config

    with pytest.raises(ConfigError, match=r"output\.local_thickness"):
        config.load(sets=['output.local_thickness="spheres"'])
