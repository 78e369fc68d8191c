"""Sintering above an onset temperature: Potts grain growth, pore migration by surface diffusion
and densification by vacancy annihilation at grain boundaries (kinetic Monte Carlo in the style
of Tikare et al., J. Am. Ceram. Soc. 2010).

Solid means a transition-metal voxel (hydroxide, rock salt, layered: phase codes >= 4); lithium
sources are neither solid nor pore here (inert). Transition metal (per phase) and lithium are
conserved exactly by all three mechanisms: they only move voxel contents.

One mechanism per module, each with its kernels and its MCS driver (a generator):

* :mod:`~mcsim.processes.sintering.common`: the solid test, Philox sub-counters, the
  contact-count field s, :func:`drive` and how the work is split across subdomains;
* :mod:`~mcsim.processes.sintering.grain_growth`: the Q-state Potts model;
* :mod:`~mcsim.processes.sintering.pore_migration`: pore-solid swaps (surface diffusion);
* :mod:`~mcsim.processes.sintering.densification`: vacancy annihilation at grain boundaries;
* :mod:`~mcsim.processes.sintering.vacancy_sinks`: where each vacancy goes (constrained
  sintering read from the local bond fraction), and the local sinks;
* :mod:`~mcsim.processes.sintering.process`: :class:`PottsSintering`, the rates, the MCS
  accumulators and the tallies;
* :mod:`~mcsim.processes.sintering.polycrystal`: a Voronoi polycrystal for tests and benchmarks.

Every name is importable from this package as before the split.
"""

from mcsim.processes.sintering.common import (MECHANISMS, SOLID_MIN, SUB_EVENT, SUB_EVENT_KEY,
                                              SUB_GG_FINE, SUB_GG_REDRAW, SUB_GRAIN_GROWTH,
                                              SUB_INNER_KEY, SUB_PORE_MIGRATION,
                                              SUB_SURFACE_KEY, contact_count_kernel,
                                              contact_field, contact_refresh_kernel,
                                              contact_shell_kernel, drive, recount_contacts)
from mcsim.processes.sintering.densification import densification_mcs, densify_events_kernel
from mcsim.processes.sintering.grain_growth import (grain_growth_accept_table,
                                                    grain_growth_kernel, grain_growth_mcs,
                                                    lattice_j_over_kt, mark_nonsolid_kernel,
                                                    unmark_nonsolid_kernel)
from mcsim.processes.sintering.polycrystal import polycrystal
from mcsim.processes.sintering.pore_migration import (lattice_surface_j_over_kt,
                                                      pore_migration_accept_table,
                                                      pore_migration_kernel, pore_migration_mcs)
from mcsim.processes.sintering.process import PottsSintering

# private names, importable from here as before the split (tests use some of them)
from mcsim.processes.sintering.common import (  # noqa: F401
    _FIELD_NAMES, _SHIFT11, _TWO_M53, _allgather, _count_at, _fields, _solid)
from mcsim.processes.sintering.densification import (  # noqa: F401
    _grain_boundary_choice, _key_order, _local, _open_nanopores, _two_pass)
from mcsim.processes.sintering.grain_growth import (  # noqa: F401
    _ACCEPT_LEVELS, _GROUPS_FUSED, _GROUPS_SINGLE, _LANE_SPLIT, _box_diff, _offsets26)
from mcsim.processes.sintering.polycrystal import _voronoi_kernel  # noqa: F401
from mcsim.processes.sintering.pore_migration import _bump, _try_swap  # noqa: F401

__all__ = [
    "MECHANISMS", "SOLID_MIN", "SUB_EVENT", "SUB_EVENT_KEY", "SUB_GG_FINE", "SUB_GG_REDRAW",
    "SUB_GRAIN_GROWTH", "SUB_INNER_KEY", "SUB_PORE_MIGRATION", "SUB_SURFACE_KEY",
    "PottsSintering", "contact_count_kernel", "contact_field",
    "contact_refresh_kernel", "contact_shell_kernel",
    "densification_mcs", "densify_events_kernel", "drive", "grain_growth_accept_table",
    "grain_growth_kernel", "grain_growth_mcs", "lattice_j_over_kt", "lattice_surface_j_over_kt",
    "mark_nonsolid_kernel", "polycrystal",
    "pore_migration_accept_table", "pore_migration_kernel", "pore_migration_mcs",
    "recount_contacts", "unmark_nonsolid_kernel",
]
