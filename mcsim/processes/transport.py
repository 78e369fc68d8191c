"""Lithium transport: explicit diffusion of mobile lithium with phase-dependent mobility."""

from __future__ import annotations

import math

import numba
import numpy as np

from mcsim import phases as ph
from mcsim.processes.base import Process, arrhenius

# Mobility class of each phase: 0 none (pore outside the particle), 1 slow (hydroxide, rock
# salt), 2 fast (lithium sources, layered product; pores inside the particle, see _class).
MOBILITY = np.array([0, 2, 2, 2, 1, 1, 2], dtype=np.uint8)


@numba.njit(inline="always")
def _class(mobility, phase_code, grain_id):
    """Mobility class of a voxel: pores inside the particle (grain id != 0) carry lithium along
    their surfaces, so they are fast; pores outside the particle are closed."""
    if phase_code == 0:
        return 2 if grain_id != 0 else 0
    return mobility[phase_code]


@numba.njit(inline="always")
def _face(m, g, pn, gn, mobility):
    """Class of the face between a voxel (class m, grain g) and a neighbour (phase pn, grain gn)."""
    mn = _class(mobility, pn, gn)
    if mn == 0:
        return 0
    if (m == 2 and mn == 2) or gn != g:
        return 2
    return 1


@numba.njit(inline="always")
def _code_at(phase, grain, mobility, z, y, x):
    """The six face classes of voxel (z, y, x), two bits each (-z, +z, -y, +y, -x, +x)."""
    g = grain[z, y, x]
    m = _class(mobility, phase[z, y, x], g)
    if m == 0:
        return 0
    return (_face(m, g, phase[z - 1, y, x], grain[z - 1, y, x], mobility)
            | _face(m, g, phase[z + 1, y, x], grain[z + 1, y, x], mobility) << 2
            | _face(m, g, phase[z, y - 1, x], grain[z, y - 1, x], mobility) << 4
            | _face(m, g, phase[z, y + 1, x], grain[z, y + 1, x], mobility) << 6
            | _face(m, g, phase[z, y, x - 1], grain[z, y, x - 1], mobility) << 8
            | _face(m, g, phase[z, y, x + 1], grain[z, y, x + 1], mobility) << 10)


@numba.njit(parallel=True, cache=True)
def face_codes_kernel(phase, grain, mobility, codes):
    """Classify the six faces of every voxel (phases do not change while the transport kernel
    sub-cycles): two bits per face (-z, +z, -y, +y, -x, +x), 0 closed, 1 slow, 2 fast.

    A face is fast when both voxels are fast (lithium sources, layered oxide, pores inside the
    particle, whose surfaces carry lithium) or when it joins two different grains or a grain
    and a pore (grain boundaries and pore walls); slow inside a hydroxide or rock-salt grain;
    closed when either side is a pore outside the particle. Returns the number of open voxels.
    """
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    n_open = np.zeros(nz, dtype=np.int64)
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                code = _code_at(phase, grain, mobility, z, y, x)
                if code != 0:
                    n_open[z - 1] += 1
                codes[z, y, x] = code
    return n_open.sum()


@numba.njit(parallel=True, cache=True)
def refresh_face_codes_kernel(phase, grain, mobility, codes, dirty):
    """Recompute the face classes of the voxels that changed (``dirty``) and of their six
    neighbours only; no other voxel's classes can have changed. A first pass marks the rows
    (z, y) holding a flag, so rows with no flagged voxel in them or in the four rows around
    them are skipped whole. Returns how many voxels, halo included, were flagged (the caller
    clears the flags when there were any)."""
    nz = phase.shape[0] - 2
    ny = phase.shape[1] - 2
    nx = phase.shape[2] - 2
    rows = np.zeros((nz + 2, ny + 2), dtype=np.uint8)
    flagged = np.zeros(nz + 2, dtype=np.int64)
    for z in numba.prange(nz + 2):
        for y in range(ny + 2):
            n = 0
            for x in range(nx + 2):
                n += dirty[z, y, x]
            if n > 0:
                rows[z, y] = 1
                flagged[z] += n
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            if not (rows[z, y] | rows[z - 1, y] | rows[z + 1, y] | rows[z, y - 1]
                    | rows[z, y + 1]):
                continue
            for x in range(1, nx + 1):
                if (dirty[z, y, x] | dirty[z - 1, y, x] | dirty[z + 1, y, x] | dirty[z, y - 1, x]
                        | dirty[z, y + 1, x] | dirty[z, y, x - 1] | dirty[z, y, x + 1]):
                    codes[z, y, x] = _code_at(phase, grain, mobility, z, y, x)
    return flagged.sum()


def prepare_face_codes(state) -> np.ndarray:
    """The state's face classes, brought up to date: computed in full the first time, then
    refreshed around the voxels that the kernels flagged as changed since the last call.

    On a decomposed lattice the flags are halo-exchanged first: a voxel the neighbouring rank
    changed at the edge of its block changes the classes of this block's voxels next to it.
    The classes of the two sides of a face between blocks are computed by each rank from the
    same (halo-exchanged) phases and grains, so they agree and transport stays conservative.
    """
    codes = state.face_codes()
    dirty = state.dirty_flags()
    if not state.lone:
        state.exchange_field(dirty)
    if not state.codes_ready:
        face_codes_kernel(state.phase, state.grain, MOBILITY, codes)
        state.codes_ready = True
        dirty[...] = 0
    elif refresh_face_codes_kernel(state.phase, state.grain, MOBILITY, codes, dirty) > 0:
        dirty[...] = 0
    return codes


@numba.njit(parallel=True, cache=True)
def rkl_stage_kernel(codes, a, b, out, mu, nu, w_fast, w_slow):
    """One stage of the RKL1 super-time-stepping scheme: out = mu a + nu b + L(a).

    ``L`` is the 7-point operator of :func:`diffuse_kernel` with face weights ``w_fast`` and
    ``w_slow`` (already multiplied by the stage's share of the step). Closed voxels keep
    their value. Since mu + nu = 1 and L conserves, every stage conserves lithium.
    """
    nz = a.shape[0] - 2
    ny = a.shape[1] - 2
    nx = a.shape[2] - 2
    for z in numba.prange(1, nz + 1):
        for y in range(1, ny + 1):
            for x in range(1, nx + 1):
                code = codes[z, y, x]
                c = a[z, y, x]
                if code == 0:
                    out[z, y, x] = c
                    continue
                acc = 0.0
                for k in range(6):
                    f = (code >> (2 * k)) & 3
                    if f == 0:
                        continue
                    dz = -1 if k == 0 else (1 if k == 1 else 0)
                    dy = -1 if k == 2 else (1 if k == 3 else 0)
                    dx = -1 if k == 4 else (1 if k == 5 else 0)
                    w = w_fast if f == 2 else w_slow
                    acc += w * (a[z + dz, y + dy, x + dx] - c)
                out[z, y, x] = mu * c + nu * b[z, y, x] + acc


def diffuse_kernel(codes, li, out, w_fast, w_slow):
    """One explicit (forward Euler) step of d(li)/dt = div(D grad li) on the 7-point stencil.

    ``codes`` are the face classes of :func:`face_codes_kernel`; ``w_fast`` and ``w_slow`` are
    D dt / h^2 for fast and slow faces (stable for 6 w <= 1). It is the RKL stage with
    mu = 1, nu = 0. Face classes are symmetric, so the lithium leaving one voxel arrives in
    the other: the update conserves lithium.
    """
    rkl_stage_kernel(codes, li, li, out, 1.0, 0.0, w_fast, w_slow)


def rkl1_stages(tau_s: float, dt_explicit_s: float, max_stages: int = 64) -> tuple[int, int]:
    """(super-steps, stages per super-step) so that RKL1 covers ``tau_s`` stably.

    An s-stage RKL1 step is stable up to dt_explicit (s^2 + s) / 2 (Meyer, Balsara & Aslam,
    J. Comput. Phys. 257, 2014, doi:10.1016/j.jcp.2013.08.021).
    """
    ratio = tau_s / dt_explicit_s
    n_super = max(1, math.ceil(ratio / ((max_stages ** 2 + max_stages) / 2)))
    per = ratio / n_super
    s = max(1, math.ceil((-1 + math.sqrt(1 + 8 * per)) / 2))
    return n_super, s


class ExplicitDiffusion(Process):
    """Lithium diffusion, D = D0 exp(-Ea/RT) on fast paths and a fixed fraction of it on slow ones.

    The kernel is explicit, so it sub-cycles within the engine's step at dt <= h^2/(6 D) (the
    stability bound of the 7-point stencil, with a 0.9 safety factor). The fast-path
    diffusivity is capped at ``d_cap_m2_per_s``, a calibrated ceiling (fitted to the layered
    share at 300 C, paper Fig. 2j) that the Arrhenius law reaches near 264 C: it slows the
    lithium supply above that temperature (measured in docs/validation.md) and also bounds the
    sub-steps.
    """

    name = "transport"
    variant = "explicit"
    passes_per_tally = {"transport_substeps": 1}  # each sub-step (or RKL1 stage) one sweep

    def diffusivities(self, temperature_c):
        """(fast, slow) diffusivities in m^2/s at ``temperature_c``."""
        d_fast = min(arrhenius(self.params["d_fast_d0_m2_per_s"], self.params["d_fast_ea_j_per_mol"],
                               temperature_c), self.params["d_cap_m2_per_s"])
        return d_fast, d_fast * self.params["d_slow_ratio"]

    def substep_s(self, state, temperature_c):
        """The stable sub-step of the explicit kernel."""
        h = state.voxel_nm * 1e-9
        d_fast, _ = self.diffusivities(temperature_c)
        return math.inf if d_fast <= 0 else 0.9 * h * h / (6.0 * d_fast)

    def active(self, state):
        """Transport matters while some transition metal can still take lithium up; once all
        of it is layered, moving the excess lithium about changes no phase."""
        c = state.census
        return c.get("hydroxide", 1) + c.get("rocksalt", 1) > 0

    def advance(self, state, dt_s, temperature_c):
        if not self.active(state):
            return {"transport_substeps": 0}
        h2 = (state.voxel_nm * 1e-9) ** 2
        d_fast, d_slow = self.diffusivities(temperature_c)
        n_sub = max(1, math.ceil(dt_s / self.substep_s(state, temperature_c)))
        sub = dt_s / n_sub
        codes = prepare_face_codes(state)
        for _ in range(n_sub):
            out = state.scratch_array()
            diffuse_kernel(codes, state.li, out, d_fast * sub / h2, d_slow * sub / h2)
            state.exchange_field(out)
            state.adopt_li(out, ())
        return {"transport_substeps": n_sub}

    def describe(self):
        return (f"transport: explicit diffusion, D0 {self.params['d_fast_d0_m2_per_s']:.3g} m2/s, "
                f"Ea {self.params['d_fast_ea_j_per_mol'] / 1e3:.0f} kJ/mol, cap "
                f"{self.params['d_cap_m2_per_s']:.3g} m2/s, slow/fast {self.params['d_slow_ratio']:g}")


class SuperTimeStepping(ExplicitDiffusion):
    """The same diffusion operator advanced by first-order Runge-Kutta-Legendre super-steps.

    An s-stage RKL1 step costs s sweeps and is stable for steps up to (s^2 + s)/2 explicit
    limits, so covering an engine step that needs N explicit sub-steps takes about sqrt(2N)
    sweeps instead of N. First order in time like forward Euler; it conserves lithium.
    """

    variant = "rkl1"

    def advance(self, state, dt_s, temperature_c):
        if not self.active(state):
            return {"transport_substeps": 0}
        h2 = (state.voxel_nm * 1e-9) ** 2
        d_fast, d_slow = self.diffusivities(temperature_c)
        n_super, n_stage = rkl1_stages(dt_s, self.substep_s(state, temperature_c))
        tau = dt_s / n_super
        codes = prepare_face_codes(state)
        norm = 2.0 / (n_stage * n_stage + n_stage)
        for _ in range(n_super):
            y0 = state.li
            y1 = state.scratch_array()
            y2 = state.scratch_array(1)
            w = norm * tau / h2
            rkl_stage_kernel(codes, y0, y0, y1, 1.0, 0.0, w * d_fast, w * d_slow)
            state.exchange_field(y1)
            prev2, prev1 = y0, y1
            spare = y2
            for j in range(2, n_stage + 1):
                mu = (2 * j - 1) / j
                nu = (1 - j) / j
                w = mu * norm * tau / h2
                rkl_stage_kernel(codes, prev1, prev2, spare, mu, nu, w * d_fast, w * d_slow)
                state.exchange_field(spare)
                prev2, prev1, spare = prev1, spare, prev2
            state.adopt_li(prev1, (prev2, spare))
        return {"transport_substeps": n_super * n_stage}

    def describe(self):
        return "transport: RKL1 super-time-stepping of " + super().describe().split(": ", 1)[1]
