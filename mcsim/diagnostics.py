"""Observers: diagnostics computed from the state on a cadence (never from kernel internals).

Every diagnostic is a global quantity, bit-identical for any number of threads and any
decomposition of the lattice over MPI ranks (:mod:`mcsim.parallel`): counts and amounts are
int64 sums reduced exactly over ranks; the mobile-lithium float32 field is summed in fixed
point (each voxel's value times 2^32, truncated toward zero, accumulated as two int64 words:
an exact integer whatever the order); radial shells and the projected image are int64 sums
on the global grid. The porosity of the time series (:func:`porosity_kernel`) is built from
int64 sums in the same way, so it too is the same for any split.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim.parallel import FIXED_POINT_BITS, allreduce_image, allreduce_int, fixed_point_total


_FIXED_SCALE = float(2 ** FIXED_POINT_BITS)
_LOW32 = np.int64(0xFFFFFFFF)
_SHIFT32 = np.int64(32)


_SPENT_LUT = np.zeros(256, dtype=bool)
_SPENT_LUT[list(ph.SOURCE_PHASES)] = True


def reported_phase(phase, amount):
    """Phase codes as every report counts and draws them: a lithium-source voxel (LiOH, Li2O,
    Li2CO3) whose ``amount`` is 0 holds no solid and is reported as a pore (code 0).

    The stored ``phase`` field keeps the source's code on such a voxel until its mobile
    lithium falls below half a quantum (then the engine turns it into a pore); it is empty
    space that still carries mobile lithium, not the source phase. Transition-metal voxels
    always hold amount >= 1 (a rock-salt voxel that empties becomes a pore), so only source
    codes are affected. Returns a new uint8 array; the inputs are not changed.
    """
    phase = np.asarray(phase)
    amount = np.asarray(amount)
    if phase.shape != amount.shape:
        raise ValueError(f"phase {phase.shape} and amount {amount.shape} differ in shape")
    out = np.array(phase, dtype=np.uint8)
    out[_SPENT_LUT[out] & (amount == 0)] = ph.PORE
    return out


@numba.njit(parallel=True, cache=True)
def census_kernel(phase, amount, li, n_phases):
    """Per-phase voxel counts and summed amount (quanta), and mobile lithium in fixed point.

    A lithium-source voxel (LiOH, Li2O, Li2CO3) whose ``amount`` is 0 holds no solid: it is
    counted as a pore (code 0) in ``counts``, whatever its stored code (see
    :func:`reported_phase`). Returns ``counts``, ``amounts`` (int64 per phase) and ``mobile``
    (int64, shape (nz, 2)):
    per z-plane the sums of ``v >> 32`` and ``v & (2^32 - 1)`` of ``v = trunc(li 2^32)``
    (:func:`mcsim.parallel.fixed_point_total` turns them into one exact, correctly rounded
    float), so the result depends on neither the threads nor the decomposition.
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    counts = np.zeros((nz, n_phases), dtype=np.int64)
    amounts = np.zeros((nz, n_phases), dtype=np.int64)
    mobile = np.zeros((nz, 2), dtype=np.int64)
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                c = phase[z, y, x]
                a = amount[z, y, x]
                amounts[z - 1, c] += a
                if a == 0 and (c == ph.LIOH or c == ph.LI2O or c == ph.LI2CO3):
                    c = ph.PORE  # a used-up source: empty space (it may still hold mobile Li)
                counts[z - 1, c] += 1
                v = np.int64(np.float64(li[z, y, x]) * _FIXED_SCALE)
                mobile[z - 1, 0] += v >> _SHIFT32
                mobile[z - 1, 1] += v & _LOW32
    return counts.sum(axis=0), amounts.sum(axis=0), mobile


class Census:
    """Global phase census of a state: what every timeseries row is built from.

    Parameters
    ----------
    comm : mpi4py communicator, optional
        The ranks sharing the lattice (``state.comm``); None on a lone domain.
    """

    def __init__(self, comm=None):
        self.comm = comm

    def __call__(self, state) -> dict:
        counts, amounts, planes = census_kernel(state.phase, state.amount, state.li, ph.N_PHASES)
        mobile = fixed_point_total(planes[:, 0], planes[:, 1], self.comm)
        both = allreduce_int(self.comm, np.concatenate([counts, amounts]))
        counts = both[:ph.N_PHASES].astype(np.float64)
        amounts = both[ph.N_PHASES:].astype(np.float64)
        n_total = counts.sum()
        tm = np.array([amounts[c] for c in ph.TM_PHASES])
        source_li = sum(amounts[c] for c in ph.SOURCE_PHASES)
        bound_li = amounts[ph.LAYERED]
        return {
            "phase_fraction": counts / n_total,
            "tm_phase_fraction": tm / max(tm.sum(), 1.0),
            "tm_quanta": tm.sum(),
            "li_source": source_li,
            "li_mobile": mobile,
            "li_bound": bound_li,
            "li_total": source_li + mobile + bound_li,
        }


N_RADIAL_BINS = 10
#: Core and shell of the core-shell descriptors, in r/R (radial profiles) or projected
#: radius (mass-thickness image).
CORE_MAX = 0.5
SHELL_MIN = 0.7
SLAB_HALF_WIDTH = 0.25  # of R: the central slab projected for the mass-thickness image


@numba.njit(inline="always")
def _chord(d2_row, r2, x_centre, nx):
    """The local x range (clipped to 1..nx) of a row, at squared distance ``d2_row`` from the
    particle's centre in y and z, that holds every voxel within the sphere of squared radius
    ``r2`` (the centre at local x ``x_centre``): the chord, widened by a voxel each side and by
    a relative 1e-9 of ``r2``, so that it is a superset and the kernels' own tests, unchanged,
    decide every voxel; (1, 0) when the row misses the sphere. The voxels of the cube outside
    the sphere (half of it) are then not visited at all."""
    w2 = r2 * (1.0 + 1e-9) - d2_row
    if w2 < 0.0:
        return 1, 0
    w = math.sqrt(w2)
    lo = max(1, int(math.floor(x_centre - w)) - 1)
    hi = min(nx, int(math.ceil(x_centre + w)) + 1)
    return lo, hi


@numba.njit(parallel=True, cache=True)
def radial_kernel(phase, amount, disorder, oz, oy, ox, cz, cy, cx, radius, nbins, slab_half):
    """Integer sums in shells of r/R and a projected image through a central slab.

    Returns ``shells`` (nbins, 2 + n_phases) int64 — voxels, summed layered disorder codes
    weighted by the voxel's amount (TM quanta), then
    summed amount per phase — and ``image`` (ny, nx, 3) int64, the TM quanta of hydroxide, rock
    salt and layered summed along z over the slab |z - cz| <= slab_half. Integer sums keep the
    result independent of threads and of how the lattice is split. The shells are summed per
    z plane, the image per row y (a second pass over the slab's planes), so no two threads
    ever add into the same element.
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    nph = 7
    shells = np.zeros((nz, nbins, 2 + nph), dtype=np.int64)
    image = np.zeros((ny, nx, 3), dtype=np.int64)
    inv_r = 1.0 / radius
    for z in numba.prange(1, nz + 1):
        dz = oz + z - 1 - cz
        for y in range(1, ny + 1):
            dy = oy + y - 1 - cy
            lo, hi = _chord(dz * dz + dy * dy, radius * radius, cx - ox + 1, nx)
            for x in range(lo, hi + 1):
                dx = ox + x - 1 - cx
                r = math.sqrt(dz * dz + dy * dy + dx * dx) * inv_r
                if r < 1.0:
                    c = phase[z, y, x]
                    a = amount[z, y, x]
                    b = min(int(r * nbins), nbins - 1)
                    shells[z - 1, b, 0] += 1
                    shells[z - 1, b, 2 + c] += a
                    if c == 6:
                        shells[z - 1, b, 1] += np.int64(disorder[z, y, x]) * a
    for y in numba.prange(1, ny + 1):
        for z in range(1, nz + 1):
            if abs(oz + z - 1 - cz) <= slab_half:
                for x in range(1, nx + 1):
                    c = phase[z, y, x]
                    if c >= 4:
                        image[y - 1, x - 1, c - 4] += amount[z, y, x]
    return shells.sum(axis=0), image


#: Porosity series of :class:`Profiles` (units, description), also written by
#: :func:`mcsim.pores.pore_statistics` into ``/pores`` with the same definitions.
POROSITY_SERIES = {
    "porosity": ("1", "pore voxels inside the particle / voxels inside (r <= R, not tagged "
                 "outside), as /pores/NNNN/porosity"),
    "mass_porosity": ("1", "1 - solid volume inside the particle / its volume; a voxel's solid "
                      "is amount / full amount of its phase"),
    "subvoxel_porosity": ("1", "mass_porosity - porosity: the porosity held in part-filled "
                          "voxels"),
}


@numba.njit(parallel=True, cache=True)
def porosity_kernel(phase, grain, amount, oz, oy, ox, cz, cy, cx, radius):
    """Integer sums over the voxels inside the particle, the envelope of the pore statistics
    (:mod:`mcsim.pores.geometry`, ``outline="tags"``).

    A voxel is inside when its centre lies at ``r <= R`` from the particle centre, the squared
    distance formed exactly as :mod:`mcsim.pores.geometry` forms it (``(dy^2 + dx^2) + dz^2``
    in float64, global indices), and it is not tagged as outside (a pore or lithium-source
    voxel with grain id 0). Returns int64 ``[inside voxels, pore voxels, amount of phase 0,
    ..., amount of phase 6]``; a pore voxel is a pore or a used-up source (amount 0,
    :func:`reported_phase`). Integer sums: the same for any threads and any split.
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    nph = 7
    sums = np.zeros((nz, 2 + nph), dtype=np.int64)
    r2max = radius * radius
    for z in numba.prange(1, nz + 1):
        dz = (oz + z - 1) - cz
        dz2 = dz * dz
        for y in range(1, ny + 1):
            dy = (oy + y - 1) - cy
            dy2 = dy * dy
            lo, hi = _chord(dy2 + dz2, r2max, cx - ox + 1, nx)
            for x in range(lo, hi + 1):
                dx = (ox + x - 1) - cx
                if (dy2 + dx * dx) + dz2 > r2max:
                    continue
                c = phase[z, y, x]
                if grain[z, y, x] == 0 and c < ph.HYDROXIDE:
                    continue  # the outside world within R
                a = amount[z, y, x]
                sums[z - 1, 0] += 1
                if c == ph.PORE or (a == 0 and (c == ph.LIOH or c == ph.LI2O
                                                or c == ph.LI2CO3)):
                    sums[z - 1, 1] += 1
                sums[z - 1, 2 + c] += a
    return sums.sum(axis=0)


def porosity_from_sums(sums, full) -> dict:
    """Voxel, mass and sub-voxel porosity from the (rank-reduced) sums of
    :func:`porosity_kernel`.

    ``porosity`` = pore voxels / voxels inside. ``mass_porosity`` = 1 - (sum over the phases
    1..6, in code order, of their summed amount / ``full[phase]``) / voxels inside: a voxel's
    solid volume fraction is its amount over the full amount of its phase, lithium sources
    included (a used-up source holds 0), so full voxels give the voxel porosity.
    ``subvoxel_porosity`` = ``mass_porosity - porosity``. All three are 0 when no voxel is
    inside (as ``/pores`` reports the porosity then).
    """
    sums = np.asarray(sums, dtype=np.int64)
    inside, n_pore = int(sums[0]), int(sums[1])
    if inside == 0:
        return {"porosity": 0.0, "mass_porosity": 0.0, "subvoxel_porosity": 0.0}
    solid = 0.0
    for code in range(1, ph.N_PHASES):
        if full[code] > 0:
            solid += int(sums[2 + code]) / float(full[code])
    porosity = n_pore / inside
    mass = 1.0 - solid / inside
    return {"porosity": porosity, "mass_porosity": mass, "subvoxel_porosity": mass - porosity}


def shell_density(shells, full) -> np.ndarray:
    """Solid volume fraction of each shell from the shell sums of :func:`radial_kernel`: a
    voxel's fill is its amount over the full amount of its phase (``full``)."""
    shells = np.asarray(shells, dtype=np.float64)
    fill = np.zeros(shells.shape[0])
    for code in range(1, ph.N_PHASES):
        fill += shells[:, 2 + code] / full[code]
    return fill / np.maximum(shells[:, 0], 1.0)


def core_shell_contrast(values) -> float:
    """Mean of a radial profile over the shell (r/R >= SHELL_MIN) minus its mean over the
    core (r/R < CORE_MAX), for profiles on equal-width bins of r/R."""
    values = np.asarray(values, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, values.size + 1)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return float(values[mid >= SHELL_MIN].mean() - values[mid < CORE_MAX].mean())


class Profiles:
    """Radial profiles, core-shell descriptors, the projected mass-thickness image and the
    porosity by voxels and by mass inside the particle (:data:`POROSITY_SERIES`)."""

    def __init__(self, full, comm=None, nbins=N_RADIAL_BINS):
        self.full = np.asarray(full, dtype=np.float64)
        self.nbins = nbins
        self.comm = comm
        self.edges = np.linspace(0.0, 1.0, nbins + 1)
        self.mid = 0.5 * (self.edges[1:] + self.edges[:-1])

    def __call__(self, state) -> dict:
        shells, image = radial_kernel(state.phase, state.amount, state.disorder, *state.offset,
                                      *state.center_vox, state.radius_vox, self.nbins,
                                      SLAB_HALF_WIDTH * state.radius_vox)
        por = porosity_kernel(state.phase, state.grain, state.amount, *state.offset,
                              *state.center_vox, state.radius_vox)
        both = allreduce_int(self.comm, np.concatenate([shells.ravel(), por]))
        porosity = porosity_from_sums(both[shells.size:], self.full)
        shells = both[:shells.size].reshape(shells.shape).astype(np.float64)
        amounts = shells[:, 2:]
        tm = amounts[:, [ph.HYDROXIDE, ph.ROCKSALT, ph.LAYERED]]
        tm_sum = np.maximum(tm.sum(axis=1), 1.0)
        frac = tm / tm_sum[:, None]
        density = shell_density(shells, self.full)
        layered = frac[:, 2]
        # radius where the layered fraction first reaches 50 % going outwards from the centre
        r50 = 1.0
        if layered[0] >= 0.5:
            r50 = 0.0
        else:
            for b in range(1, self.nbins):
                if layered[b] >= 0.5:
                    f0, f1 = layered[b - 1], layered[b]
                    r50 = self.mid[b - 1] + (0.5 - f0) / (f1 - f0) * (self.mid[b] - self.mid[b - 1])
                    break
        n_lay = amounts[:, ph.LAYERED].sum()
        # Li/Ni disorder per layered TM (the fraction a Rietveld refinement reports): codes
        # (per mille) weighted by the TM each voxel holds, over the layered TM
        disorder_mean = shells[:, 1].sum() / max(n_lay, 1.0) / 1000.0
        img = self._mass_image(allreduce_image(self.comm, image, state.offset[1:],
                                               state.global_shape[1:]), state)
        return {
            "radial_hydroxide": frac[:, 0], "radial_rocksalt": frac[:, 1],
            "radial_layered": layered, "radial_density": density,
            "core_shell_r50": r50,
            "contrast_layered": core_shell_contrast(layered),
            "contrast_density": core_shell_contrast(density),
            "tem_core": img["core"], "tem_shell": img["shell"],
            "disorder_mean": disorder_mean,
            **porosity,
            "_image": img["image"],
        }

    def _mass_image(self, image, state) -> dict:
        """Mass-thickness image (g/mol of solid per quantum, summed along z) and its core/shell means."""
        masses = np.array([ph.MOLAR_MASS[ph.HYDROXIDE], ph.MOLAR_MASS[ph.ROCKSALT],
                           ph.MOLAR_MASS[ph.LAYERED]]) / 1000.0
        mass = image.astype(np.float64) @ masses
        gy, gx = state.global_shape[1:]
        cy, cx = state.center_vox[1:]
        yy, xx = np.meshgrid(np.arange(gy) - cy, np.arange(gx) - cx, indexing="ij")
        rho = np.hypot(yy, xx) / state.radius_vox
        core = rho < CORE_MAX
        shell = (rho >= SHELL_MIN) & (rho < 1.0)
        return {"image": mass, "core": float(mass[core].mean()) if core.any() else 0.0,
                "shell": float(mass[shell].mean()) if shell.any() else 0.0}


class Thermo:
    """Simulated thermogravimetry and DTA from the cumulative event tallies (quanta).

    Weight: the sample starts as TM(OH)2 plus the lithium source; every event tally declared
    by a registered local reaction (:class:`mcsim.processes.registry.Tally`) gives off (or
    takes up) its gases per quantum -- water from dehydrating and lithiating TM and from
    lithium leaving LiOH, CO2 from Li2CO3, O2 taken up by lithiated TM (TM2+ -> TM3+). Heat
    flow: each tally times the enthalpy parameter it names, per gram of the initial sample,
    exothermic positive (as DTA curves are drawn, exo up).

    The sums run in a fixed order, whatever the registry's: gases given off, then taken up,
    each in :attr:`GASES` order and by moles per quantum (most first), the tallies that share
    a gas and amount added as integers first; heat terms in the order the parameter set lists
    the enthalpies.
    """

    #: Gases the bookkeeping knows and their molar masses (g/mol), in summation order.
    GASES = (("H2O", ph.M_H2O), ("CO2", ph.M_CO2), ("O2", ph.M_O2))

    def __init__(self, params, tm_quanta, li_source_quanta, source_phase, declarations=None):
        # lazy: the registry's package loads every process (kernels); mcsim.pores needs none
        from mcsim.processes.registry import tally_declarations

        self.params = params
        self.m0 = (tm_quanta * ph.MOLAR_MASS[ph.HYDROXIDE]
                   + li_source_quanta * ph.MOLAR_MASS[source_phase])
        self.last = None
        decl = tally_declarations() if declarations is None else declarations
        molar = dict(self.GASES)
        rank = {gas: i for i, (gas, _) in enumerate(self.GASES)}
        lost, gained, heat = {}, {}, {}
        for t in decl:
            for gas, moles in t.gas.items():
                if gas not in molar:
                    raise ValueError(f"tally {t.name!r}: unknown gas {gas!r} (known: "
                                     f"{', '.join(molar)})")
                side = lost if moles > 0 else gained
                side.setdefault((gas, abs(moles)), []).append(t.name)
            if t.enthalpy is not None:
                heat.setdefault(t.enthalpy, []).append(t.name)

        def terms(side):
            keys = sorted(side, key=lambda k: (rank[k[0]], -k[1]))
            return [(tuple(side[k]), molar[k[0]] * k[1]) for k in keys]

        self._lost, self._gained = terms(lost), terms(gained)
        order = {key: i for i, key in enumerate(params)}
        self._heat = [(key, tuple(heat[key]))
                      for key in sorted(heat, key=lambda k: (order.get(k, len(order)), k))]

    @staticmethod
    def _sum(t: dict, terms) -> float:
        """Sum over ``terms`` (tally names, factor) of the tallies' (integer) sum times the
        factor, left to right."""
        total = None
        for names, factor in terms:
            value = sum(t.get(n, 0) for n in names) * factor
            total = value if total is None else total + value
        return 0.0 if total is None else total

    def mass_change(self, t: dict) -> float:
        """Mass (g/mol of quanta) gained by the sample: gas taken up minus gas given off."""
        return self._sum(t, self._gained) - self._sum(t, self._lost)

    def heat(self, t: dict) -> float:
        """Heat (J/mol of quanta) released: minus the enthalpies of the events."""
        p = self.params
        return -self._sum(t, [(names, p[key]) for key, names in self._heat])

    def __call__(self, time_s: float, tallies: dict) -> dict:
        weight = 100.0 * (1.0 + self.mass_change(tallies) / self.m0)
        heat = self.heat(tallies)
        dtg = dta = 0.0
        if self.last is not None and time_s > self.last[0]:
            dt = time_s - self.last[0]
            dtg = (weight - self.last[1]) / (dt / 60.0)
            dta = (heat - self.last[2]) / dt / self.m0
        self.last = (time_s, weight, heat)
        return {"weight_pct": weight, "dtg_pct_per_min": dtg, "dta_w_per_g": dta}
