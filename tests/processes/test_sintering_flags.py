"""Every kernel that changes a voxel's phase or grain id flags it, sintering included, so the
face classes that the transport refreshes around the flags never go stale.

Found 2026-12-07: densification tagged the nanopores it joins to a newly opened pore with
grain id -1 without flagging them, so the faces between those pores and the solid of their
old grain kept their class (a face inside a grain where there is now a pore wall), and
lithium crossed them at the wrong rate in every later step (the kernels of 2026-12-04 and
today's, each refreshing differently around the stale voxels, then disagreed too)."""

import numpy as np

from mcsim import config
from mcsim.generator import generate_agglomerate
from mcsim.processes import transport as tr
from mcsim.state import FIELD_NAMES, State
from mcsim.stepper import Stepper


def test_face_classes_stay_fresh_through_sintering():
    """Today's Stepper and that of 2026-12-04 from the first lithiation through restructuring
    to sintering at 850 C (grain growth, densification and, in the two long steps, pore
    migration write the lattice between the transport steps): after every step the refreshed
    classes equal a full recount, and every field of the two is the same, bit for bit."""
    shape = {"grain_length_nm": 100, "grain_width_nm": 60, "grain_thickness_nm": 30}
    micro = generate_agglomerate(radius_um=0.2, voxel_nm=10, source_diameter_nm=80, seed=5,
                                 **shape)
    cfg = config.load(sets=["numerics.threads=1", "model.processes.release='contact'"])
    new, old = State.from_microstructure(micro), State.from_microstructure(micro)
    steppers = (Stepper.from_config(cfg), Stepper.from_config(cfg, legacy=True))
    moved = {"vacancies_annihilated": 0, "grain_flips": 0, "pore_swaps": 0}
    inner = (slice(1, -1),) * 3
    for temp, dt in ((250.0, 60.0), (300.0, 60.0), (350.0, 60.0), (480.0, 60.0), (560.0, 60.0),
                     (700.0, 60.0), (850.0, 60.0), (850.0, 60.0), (850.0, 60.0), (850.0, 60.0),
                     (850.0, 3000.0), (850.0, 3000.0)):
        out = [s.advance(st, dt, temp) for s, st in zip(steppers, (new, old))]
        assert out[0] == out[1]
        for key in moved:
            moved[key] += out[0].get(key, 0)
        fresh = np.zeros_like(new.face_codes())
        tr.face_codes_kernel(new.phase, new.grain, tr.MOBILITY, fresh)
        for st in (new, old):
            np.testing.assert_array_equal(tr.prepare_face_codes(st)[inner], fresh[inner],
                                          err_msg=f"classes after the step at {temp} C")
        for name in FIELD_NAMES:
            np.testing.assert_array_equal(getattr(new, name).view(np.uint8),
                                          getattr(old, name).view(np.uint8),
                                          err_msg=f"{name} after the step at {temp} C")
    assert min(moved.values()) > 0, moved  # sintering wrote the lattice between the steps
