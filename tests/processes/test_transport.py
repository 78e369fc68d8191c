"""Transport bookkeeping: the face classes refreshed around changed voxels equal a full recount."""

import numpy as np

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
