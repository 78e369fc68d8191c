"""Pore and grain statistics of a voxel particle: porosity, pores by class, size distributions,
local thickness, nanopore densities and grain sizes.

Everything is computed from the ``phase`` and ``grain`` fields (interior arrays, no halo,
shape (nz, ny, nx)), the particle centre ``center_vox`` (z, y, x), its radius ``radius_vox``
and the voxel edge ``voxel_nm``; :func:`pore_statistics` returns one dict ready for
``ResultWriter.write_group``, and :data:`SCALARS` names the entries the engine appends to the
time series.

One step per module, each with its definitions:

* :mod:`mcsim.pores.geometry`: what is inside the particle, its box and shells of r/R;
* :mod:`mcsim.pores.labelling`: pores as face-connected components, their surface and the
  grain ids across their faces;
* :mod:`mcsim.pores.classes`: open, intergranular and intragranular pores (nanopores), the
  central pore fraction and the central wide void (and why a wide void is 30 nm);
* :mod:`mcsim.pores.thickness`: local thickness, in our convention and in PoreSpy's;
* :mod:`mcsim.pores.summary`: :func:`pore_statistics`, grain statistics, the scalars, and the
  cost in time and memory;
* :mod:`mcsim.pores.distributed`: the same statistics of a lattice split over MPI ranks,
  without gathering it (:func:`distributed_pore_statistics`,
  :func:`distributed_reference_central_void`);
* :mod:`mcsim.pores.bench`: a synthetic particle and ``python -m mcsim.pores``.

Every name is importable from this package as before the split.
"""

from mcsim.pores.bench import synthetic_particle  # noqa: F401
from mcsim.pores.classes import (CENTRAL_MAX, INTERGRANULAR, INTRAGRANULAR,  # noqa: F401
                                 OPEN, PORE_CLASS_NAMES, WIDE_VOID_MIN_NM, WIDE_VOID_MIN_VOX,
                                 central_pore_fraction, central_wide_void_fraction,
                                 find_pores, pore_classes, wide_void_diameter_vox)
from mcsim.pores.distributed import (distributed_pore_statistics,  # noqa: F401
                                     distributed_reference_central_void)
from mcsim.pores.geometry import porosity_profile
from mcsim.pores.labelling import face_census, label_pores  # noqa: F401
from mcsim.pores.summary import (N_SIZE_BINS, SCALAR_UNITS, SCALARS,  # noqa: F401
                                 grain_statistics, pore_statistics, reference_central_void)
from mcsim.pores.thickness import THICKNESS_CONVENTIONS, local_thickness, thickness_grid_vox

# private names, importable from here as before the split (tests and mcsim.validate use some)
from mcsim.pores.bench import _main  # noqa: F401
from mcsim.pores.geometry import (  # noqa: F401
    _OUTSIDE, _TM_LUT, _box, _check_inputs, _shell_index)
from mcsim.pores.labelling import _CHUNK_VOXELS, _face_pairs, _label_sums  # noqa: F401
from mcsim.pores.summary import _equivalent_diameter, _histogram  # noqa: F401
from mcsim.pores.thickness import (  # noqa: F401
    _SLAB, _check_convention, _opening_levels, _pore_sq_distance, _porespy_levels, _sq_edt,
    _thickness_bins)

__all__ = ["pore_statistics", "reference_central_void", "distributed_pore_statistics",
           "distributed_reference_central_void", "porosity_profile", "find_pores",
           "local_thickness", "thickness_grid_vox", "THICKNESS_CONVENTIONS", "grain_statistics",
           "SCALARS", "SCALAR_UNITS", "PORE_CLASS_NAMES", "INTRAGRANULAR", "INTERGRANULAR", "OPEN"]
