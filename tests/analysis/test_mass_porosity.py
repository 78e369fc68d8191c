"""Porosity by mass (issue 12) and the central void opened since the particle was generated.

The porosity by mass counts a voxel's solid as ``amount / full amount of its phase`` over the
voxels inside the particle (the envelope of the pore-voxel porosity); it is checked against
the analytic value on hand-built lattices, on a lattice split in two, and in every report of
the tiny run (time series, /pores, /pore_series, ``mcsim info``, ``mcsim compare``). The
central void: ``central_pore_fraction`` keeps the old number (every void-class pore voxel of
r < 0.3 R), ``central_void_opened`` is the growth of the voids at least 30 nm wide there.
"""

from __future__ import annotations

import json
import math
import sys
import types
from fractions import Fraction

import h5py
import numpy as np
import pytest

from mcsim import cli
from mcsim import phases as ph
from mcsim.config import generator_kwargs
from mcsim.diagnostics import POROSITY_SERIES, Profiles, porosity_kernel
from mcsim.errors import ConfigError
from mcsim.generator import generate_agglomerate
from mcsim.io.info import summarize
from mcsim.pores import (SCALARS, SCALAR_UNITS, pore_statistics, reference_central_void,
                         wide_void_diameter_vox)
from mcsim.state import State, full_amount_table

FULL = full_amount_table()
VOX = 10.0
N = 24
C = (N - 1) / 2
R = 10.0
BY_MASS = ("porosity", "mass_porosity", "subvoxel_porosity")


def _grid():
    z, y, x = np.indices((N, N, N))
    return z, y, x, (z - C) ** 2 + (y - C) ** 2 + (x - C) ** 2 <= R * R


def _lattice():
    """A sphere of full layered voxels (grain 1) with known departures from full, and the
    analytic solid volume inside it as an exact fraction.

    Inside the sphere: a block of pore voxels (intergranular, grain -1), a slab of half-full
    hydroxide voxels, a half-full LiOH voxel, a used-up LiOH voxel (amount 0: a pore), a
    layered voxel holding a full rock-salt voxel's TM (more than full, counted whole); one
    voxel within R tagged as outside (pore, grain 0) is not inside the particle.
    """
    z, y, x, ball = _grid()
    phase = np.where(ball, ph.LAYERED, ph.PORE).astype(np.uint8)
    grain = np.where(ball, 1, 0).astype(np.int32)
    amount = np.where(ball, FULL[ph.LAYERED], 0).astype(np.uint16)
    block = ball & (z >= 9) & (z < 12) & (y >= 9) & (y < 13) & (x >= 10) & (x < 14)
    phase[block], grain[block], amount[block] = ph.PORE, -1, 0
    half = ball & (z == 16) & ~block
    phase[half], amount[half] = ph.HYDROXIDE, FULL[ph.HYDROXIDE] // 2
    phase[5, 11, 11], amount[5, 11, 11] = ph.LIOH, FULL[ph.LIOH] // 2
    phase[6, 11, 11], amount[6, 11, 11] = ph.LIOH, 0
    phase[11, 5, 11], amount[11, 5, 11] = ph.LAYERED, FULL[ph.ROCKSALT]
    phase[11, 11, 2], grain[11, 11, 2], amount[11, 11, 2] = ph.PORE, 0, 0
    assert ball[5, 11, 11] and ball[6, 11, 11] and ball[11, 5, 11] and ball[11, 11, 2]
    inside = ball.copy()
    inside[11, 11, 2] = False
    n_pore = int(block.sum()) + 1  # the used-up LiOH
    n_half = int(half.sum())
    n_full = int(inside.sum()) - n_pore - n_half - 2
    solid = (n_full + Fraction(n_half, 2) + Fraction(FULL[ph.LIOH] // 2, int(FULL[ph.LIOH]))
             + Fraction(int(FULL[ph.ROCKSALT]), int(FULL[ph.LAYERED])))
    return phase, grain, amount, int(inside.sum()), n_pore, solid


def _profiles(phase, grain, amount):
    st = State.from_arrays(phase, grain, amount, voxel_nm=VOX, center_vox=(C, C, C),
                           radius_vox=R)
    return Profiles(FULL)(st)


def test_full_voxels_give_the_pore_voxel_porosity():
    z, y, x, ball = _grid()
    phase = np.where(ball, ph.LAYERED, ph.PORE).astype(np.uint8)
    grain = np.where(ball, 1, 0).astype(np.int32)
    gap = ball & (np.abs(x - C) < 1.0)  # a 2-voxel slab between two grains
    phase[gap], grain[gap] = ph.PORE, -1
    grain[ball & (x > C)] = 2
    amount = FULL[phase].astype(np.uint16)
    s = pore_statistics(phase, grain, (C, C, C), R, VOX, outline="tags", amount=amount)
    assert s["porosity"] == gap.sum() / ball.sum()
    assert s["mass_porosity"] == pytest.approx(s["porosity"], abs=1e-15)
    assert abs(s["subvoxel_porosity"]) <= 1e-15
    out = _profiles(phase, grain, amount)
    assert [out[k] for k in BY_MASS] == [s[k] for k in BY_MASS]


def test_part_filled_voxels_give_the_analytic_mass_porosity():
    phase, grain, amount, n_inside, n_pore, solid = _lattice()
    want_mass = 1 - solid / n_inside
    s = pore_statistics(phase, grain, (C, C, C), R, VOX, outline="tags", amount=amount)
    assert s["particle_voxels"] == n_inside
    assert s["porosity"] == n_pore / n_inside
    assert s["mass_porosity"] == pytest.approx(float(want_mass), abs=1e-15)
    assert s["subvoxel_porosity"] == pytest.approx(float(want_mass - Fraction(n_pore, n_inside)),
                                                   abs=1e-15)
    assert s["subvoxel_porosity"] > 0.01  # the half-full slab is seen
    # the time series' diagnostic gives the same numbers, bit for bit
    out = _profiles(phase, grain, amount)
    assert [out[k] for k in BY_MASS] == [s[k] for k in BY_MASS]
    # without the amount field there is no mass to count
    bare = pore_statistics(phase, grain, (C, C, C), R, VOX, outline="tags")
    assert math.isnan(bare["mass_porosity"]) and math.isnan(bare["subvoxel_porosity"])


class _ReplayComm:
    """One rank of a lattice split in two, run one rank after the other: on the first pass
    every Allreduce records what the rank contributes; on the second it hands the rank the
    sum over both (what MPI's Allreduce with SUM does)."""

    def __init__(self, rank, book):
        self.rank, self.book, self.calls = rank, book, 0

    def Get_size(self):
        return 2

    def Get_rank(self):
        return self.rank

    def Allreduce(self, _in_place, buf, op=None):
        key = self.calls
        self.calls += 1
        if self.book["pass"] == 1:
            self.book.setdefault(key, {})[self.rank] = buf.copy()
        else:
            buf[...] = self.book[key][0] + self.book[key][1]


@pytest.mark.parametrize("axis, cut", [(0, 11), (1, 9), (2, 14)])
def test_split_in_two_gives_the_same_porosity(monkeypatch, axis, cut):
    fake = types.ModuleType("mpi4py")
    fake.MPI = types.SimpleNamespace(IN_PLACE=object(), SUM=object())
    monkeypatch.setitem(sys.modules, "mpi4py", fake)
    phase, grain, amount, *_ = _lattice()
    whole = _profiles(phase, grain, amount)
    halves = []
    for lo, hi in ((0, cut), (cut, N)):
        sl = [slice(None)] * 3
        sl[axis] = slice(lo, hi)
        sl = tuple(sl)
        st = State.from_arrays(phase[sl], grain[sl], amount[sl], voxel_nm=VOX,
                               center_vox=(C, C, C), radius_vox=R)
        offset = [0, 0, 0]
        offset[axis] = lo
        st.offset, st.global_shape, st.lone = tuple(offset), (N, N, N), False
        halves.append(st)
    sums = [porosity_kernel(h.phase, h.grain, h.amount, *h.offset, *h.center_vox, h.radius_vox)
            for h in halves]
    assert sums[0][0] > 0 and sums[1][0] > 0  # both halves hold part of the particle
    st_whole = State.from_arrays(phase, grain, amount, voxel_nm=VOX, center_vox=(C, C, C),
                                 radius_vox=R)
    assert np.array_equal(sums[0] + sums[1], porosity_kernel(
        st_whole.phase, st_whole.grain, st_whole.amount, 0, 0, 0, C, C, C, R))
    book = {}
    for pass_ in (1, 2):
        book["pass"] = pass_
        outs = [Profiles(FULL, comm=_ReplayComm(rank, book))(h)
                for rank, h in enumerate(halves)]
    for out in outs:
        for k in BY_MASS:
            assert out[k] == whole[k], k
        assert np.array_equal(out["radial_density"], whole["radial_density"])


# -- the central void ------------------------------------------------------------------------

def _solid_two_grains(n=41, radius=18.0):
    """A solid layered sphere centred on a voxel, grain 1 for x <= c and grain 2 beyond."""
    c = (n - 1) / 2
    z, y, x = np.indices((n, n, n))
    rr = np.sqrt((z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2)
    ball = rr <= radius
    phase = np.where(ball, ph.LAYERED, ph.PORE).astype(np.uint8)
    grain = np.where(ball, 1, 0).astype(np.int32)
    grain[ball & (x > c)] = 2
    return phase, grain, c, radius, rr, ball, x


def test_only_pores_at_least_30_nm_wide_are_a_central_void():
    phase, grain, c, radius, rr, ball, x = _solid_two_grains()
    central = ball & (rr < 0.3 * radius)
    # a 2-voxel gap between grains 2 and 3 (20 nm: as wide as a generated packing's gaps) ...
    grain[ball & (x >= c + 6)] = 3
    gap = ball & ((x == c + 4) | (x == c + 5)) & (rr < 0.6 * radius)
    phase[gap], grain[gap] = ph.PORE, -1
    s = pore_statistics(phase, grain, (c, c, c), radius, VOX, outline="tags")
    assert wide_void_diameter_vox(VOX) == 3
    assert s["central_pore_fraction"] == (gap & central).sum() / central.sum() > 0
    assert s["central_wide_void_fraction"] == 0.0
    assert math.isnan(s["central_void_opened"]) and math.isnan(s["central_void_reference"])
    # ... and a digitised ball 5 voxels across at the centre, between grains 1 and 2: its
    # local thickness is 5 voxels (50 nm) in every voxel
    cavity = rr <= 2.5
    assert cavity.sum() == 81 and not (cavity & gap).any()
    phase[cavity], grain[cavity] = ph.PORE, -1
    ref = 0.01
    for convention in ("mcsim", "porespy"):
        s = pore_statistics(phase, grain, (c, c, c), radius, VOX, outline="tags",
                            thickness_convention=convention, central_void_reference=ref)
        assert s["central_wide_void_fraction"] == 81 / central.sum()
        assert s["central_void_opened"] == s["central_wide_void_fraction"] - ref
        assert s["central_void_reference"] == ref
        assert s["central_pore_fraction"] == ((gap | cavity) & central).sum() / central.sum()
    # the same measure alone, as the engine takes it from the generated particle
    assert reference_central_void(phase, grain, (c, c, c), radius, VOX, outline="tags") \
        == s["central_wide_void_fraction"]
    # with 5 nm voxels the same cavity is 25 nm wide: not a wide void (6 voxels needed)
    assert wide_void_diameter_vox(5.0) == 6
    s5 = pore_statistics(phase, grain, (c, c, c), radius, 5.0, outline="tags")
    assert s5["central_wide_void_fraction"] == 0.0


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, "0.2"])
def test_a_bad_reference_is_a_configuration_error(bad):
    phase, grain, c, radius, *_ = _solid_two_grains(n=20, radius=8.0)
    with pytest.raises(ConfigError, match="central_void_reference"):
        pore_statistics(phase, grain, (c, c, c), radius, VOX, central_void_reference=bad)


def test_generated_particle_has_no_opened_void_until_one_is_carved(small_run):
    """The tiny run's particle as generated: no void 30 nm wide at the centre (its gaps are
    narrower), so nothing opened; a ball carved at the centre by hand is an opened void."""
    micro = generate_agglomerate(**generator_kwargs(small_run.cfg))
    st = State.from_microstructure(micro)
    f = st.interior_fields(("phase", "grain", "amount"))
    args = (f["phase"], f["grain"], st.center_vox, st.radius_vox, st.voxel_nm)
    ref = reference_central_void(*args, outline="tags", amount=f["amount"])
    assert ref == 0.0
    with h5py.File(small_run.path, "r") as h5:
        assert float(h5["geometry/central_void_reference"][()]) == ref
    s = pore_statistics(*args, outline="tags", amount=f["amount"], central_void_reference=ref)
    assert s["central_void_opened"] == 0.0
    assert s["central_pore_fraction"] > 0.25  # the packing's gaps: not a void
    phase, grain = f["phase"].copy(), f["grain"].copy()
    z, y, x = np.indices(phase.shape)
    cz, cy, cx = st.center_vox
    carved = (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= 2.5 ** 2  # 5 voxels across
    phase[carved], grain[carved] = ph.PORE, -1
    amount = np.where(carved, 0, f["amount"]).astype(f["amount"].dtype)
    s = pore_statistics(phase, grain, *args[2:], outline="tags", amount=amount,
                        central_void_reference=ref)
    central = s["shell_voxels"][:3].sum()
    assert s["central_void_opened"] >= carved.sum() / central > 0


# -- the reports of the tiny run -------------------------------------------------------------

def test_time_series_pore_series_and_pores_agree(small_run):
    with h5py.File(small_run.path, "r") as f:
        ts, ps = f["timeseries"], f["pore_series"]
        for name in BY_MASS:
            series = ts[name][()]
            assert series.shape == ts["time_s"].shape and np.isfinite(series).all(), name
            assert ts[name].attrs["units"] == POROSITY_SERIES[name][0]
            assert ts[name].attrs["description"]
            assert name in SCALARS and ps[name].attrs["units"] == SCALAR_UNITS[name][0]
        assert ts["porosity"][0] == ts["mass_porosity"][0]  # generated: every voxel full
        assert ts["subvoxel_porosity"][-1] > 0.01  # lithiation leaves part-filled voxels
        times = ts["time_s"][()]
        matched = 0
        for i, key in enumerate(sorted(k for k in f["pores"] if k.isdigit())):
            g = f["pores"][key]
            rows = np.flatnonzero(times == ps["time_s"][i])
            for name in BY_MASS:
                assert ps[name][i] == float(g[name][()]), name
                if rows.size:
                    assert ts[name][rows[-1]] == ps[name][i], (key, name)
            matched += bool(rows.size)
            for name in ("central_pore_fraction", "central_wide_void_fraction",
                         "central_void_opened", "central_void_reference"):
                assert math.isfinite(ps[name][i]), name
            assert ps["central_void_opened"][i] == (ps["central_wide_void_fraction"][i]
                                                    - ps["central_void_reference"][i])
        assert matched >= 1  # the final snapshot at least is taken with the last row
        assert ps["central_void_opened"][0] == 0.0  # nothing has opened at 100 C
        assert "central_void_fraction" not in ps


def test_info_prints_the_porosity_by_mass(small_run):
    text = summarize(small_run.path)
    with h5py.File(small_run.path, "r") as f:
        g = f["pores"][sorted(k for k in f["pores"] if k.isdigit())[-1]]
        mass, sub = float(g["mass_porosity"][()]), float(g["subvoxel_porosity"][()])
        central = float(g["central_pore_fraction"][()])
        opened = float(g["central_void_opened"][()])
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("porosity:"))
    assert f"by mass {mass:.4f}" in line and f"sub-voxel {sub:.4f}" in line
    voids = next(ln for ln in text.splitlines() if ln.strip().startswith("voids:"))
    assert f"central pore fraction {central:.4f}" in voids
    assert f"central void opened {opened:.4f}" in voids


def test_compare_tabulates_both_porosities_and_central_measures(small_run, tmp_path, capsys):
    out = tmp_path / "c.json"
    status = cli.main(["compare", "--results", str(small_run.path), str(small_run.path),
                       "--json", str(out), "--no-figure", "-o", str(tmp_path)])
    assert status == 0
    table = capsys.readouterr().out
    rows = {r["key"]: r for r in json.loads(out.read_text())["rows"]}
    with h5py.File(small_run.path, "r") as f:
        g = f["pores"][sorted(k for k in f["pores"] if k.isdigit())[-1]]
        for key in ("porosity", "mass_porosity", "subvoxel_porosity", "central_pore_fraction",
                    "central_void_opened"):
            want = float(g[key][()])
            assert rows[key]["a"] == rows[key]["b"] == want, key
    for label in ("porosity by mass", "sub-voxel porosity", "central pore fraction",
                  "central void opened"):
        assert label in table
