"""Transport bookkeeping: the face classes refreshed around changed voxels equal a full recount."""

import numpy as np
import pytest

from mcsim import config
from mcsim.generator import generate_agglomerate
from mcsim.processes.transport import MOBILITY, face_codes_kernel, prepare_face_codes
from mcsim.state import State
from mcsim.stepper import Stepper


def test_refreshed_face_classes_equal_a_full_recount_after_reactions_and_restructuring():
    micro = generate_agglomerate(radius_um=0.2, voxel_nm=10, grain_length_nm=100,
                                 grain_width_nm=60, grain_thickness_nm=30,
                                 source_diameter_nm=80, seed=5)
    state = State.from_microstructure(micro)
    cfg = config.load(sets=["numerics.threads=1", "model.processes.release='contact'"])
    stepper = Stepper.from_config(cfg)
    changed = 0
    for step, temp in enumerate((250.0, 280.0, 300.0, 320.0, 480.0, 500.0, 520.0, 540.0)):
        before = state.interior("phase").copy()
        stepper.advance(state, 30.0, temp)
        changed += np.count_nonzero(state.interior("phase") != before)
        codes = prepare_face_codes(state).copy()
        fresh = np.zeros_like(codes)
        face_codes_kernel(state.phase, state.grain, MOBILITY, fresh)
        np.testing.assert_array_equal(codes[1:-1, 1:-1, 1:-1], fresh[1:-1, 1:-1, 1:-1])
    assert changed > 1000  # the phases really changed, so the refresh had work to do


def _face_class(codes, z, y, x, face):
    """Class (0 closed, 1 slow, 2 fast) of face ``face`` (0..5: -z, +z, -y, +y, -x, +x) of an
    interior voxel (z, y, x) (1-based, halo included)."""
    return (int(codes[z, y, x]) >> (2 * face)) & 3


def test_slow_wall_table_slows_only_the_pore_walls_of_hydroxide_and_rock_salt():
    """A row of voxels along x: pore of the particle | hydroxide (grain 1) | hydroxide (grain 2)
    | rock salt (grain 2) | pore | layered (grain 3) | nanopore of grain 3 | layered (grain 3) |
    hydroxide (grain 4) | nanopore of grain 4 | hydroxide (grain 4). The default table makes
    every pore wall and grain boundary fast; the slow-wall table makes the pore walls of
    hydroxide and rock salt slow (both sides of a face agree) and keeps the grain boundaries,
    the layered walls and the walls of a nanopore inside a hydroxide grain (slow in both)."""
    from mcsim import phases as ph
    from mcsim.processes.transport import SLOW_WALL_MOBILITY

    row = [(ph.PORE, -1), (ph.HYDROXIDE, 1), (ph.HYDROXIDE, 2), (ph.ROCKSALT, 2),
           (ph.PORE, -1), (ph.LAYERED, 3), (ph.PORE, 3), (ph.LAYERED, 3), (ph.HYDROXIDE, 4),
           (ph.PORE, 4), (ph.HYDROXIDE, 4)]
    phase = np.full((3, 3, len(row)), ph.LAYERED, np.uint8)
    grain = np.full(phase.shape, 9, np.int32)  # the rest: layered of grain 9 around the row
    for i, (c, g) in enumerate(row):
        phase[1, 1, i], grain[1, 1, i] = c, g
    state = State.from_arrays(phase, grain)
    tables = {}
    for name, table in (("default", MOBILITY), ("slow", SLOW_WALL_MOBILITY)):
        codes = np.zeros(state.phase.shape, np.uint16)
        face_codes_kernel(state.phase, state.grain, table, codes)
        # +x face of voxel i and -x face of voxel i + 1, halo offset 1
        tables[name] = [(_face_class(codes, 2, 2, i + 1, 5), _face_class(codes, 2, 2, i + 2, 4))
                        for i in range(len(row) - 1)]
    default, slow = tables["default"], tables["slow"]
    for pair in default + slow:
        assert pair[0] == pair[1]  # the two sides of every face agree
    # pore|hyd, hyd|hyd (grain boundary), hyd|rs (inside grain 2), rs|pore, pore|layered,
    # layered|nanopore, nanopore|layered, layered|hyd (grain boundary), hyd|nanopore,
    # nanopore|hyd (inside grain 4)
    assert [a for a, _ in default] == [2, 2, 1, 2, 2, 2, 2, 2, 1, 1]
    assert [a for a, _ in slow] == [1, 2, 1, 1, 2, 2, 2, 2, 1, 1]


def test_slow_wall_transport_keeps_its_face_classes_up_to_date_and_conserves_lithium():
    """The rkl1-slow-walls variant through reactions and restructuring: its refreshed face
    classes equal a full recount with its own table, it conserves lithium as the default
    transport does, and it binds less of it (a pore wall no longer takes lithium at the fast
    rate)."""
    from mcsim.diagnostics import Census
    from mcsim.processes.transport import SLOW_WALL_MOBILITY

    micro = generate_agglomerate(radius_um=0.2, voxel_nm=10, grain_length_nm=100,
                                 grain_width_nm=60, grain_thickness_nm=30,
                                 source_diameter_nm=80, seed=5)
    census = Census()
    bound = {}
    for variant, table in (("rkl1", MOBILITY), ("rkl1-slow-walls", SLOW_WALL_MOBILITY)):
        state = State.from_microstructure(micro)
        cfg = config.load(sets=["numerics.threads=1", "model.processes.release='contact'",
                                f"model.processes.transport='{variant}'"])
        stepper = Stepper.from_config(cfg)
        li0 = census(state)["li_total"]
        for temp in (250.0, 280.0, 300.0, 320.0):
            stepper.advance(state, 30.0, temp)
            codes = prepare_face_codes(state, table).copy()
            fresh = np.zeros_like(codes)
            face_codes_kernel(state.phase, state.grain, table, fresh)
            np.testing.assert_array_equal(codes[1:-1, 1:-1, 1:-1], fresh[1:-1, 1:-1, 1:-1])
        c = census(state)
        assert c["li_total"] == pytest.approx(li0, rel=1e-6)
        bound[variant] = c["li_bound"]
    assert 0 < bound["rkl1-slow-walls"] < bound["rkl1"]
