"""``mcsim bench``: the machine's memory-bandwidth roof and the throughput of every kernel."""

from __future__ import annotations

import json
import math
import platform
import time

import numba
import numpy as np

from mcsim import phases as ph
from mcsim import rng
from mcsim.diagnostics import census_kernel
from mcsim.generator import generate_agglomerate
from mcsim.processes import sintering as si
from mcsim.processes import slots as S
from mcsim.processes.reactions import reaction_kernel
from mcsim.processes.restructure import restructure_kernel
from mcsim.processes.transport import (KEPT, MOBILITY, diffuse_kernel,
                                       diffuse_kernel_reference, face_codes_kernel,
                                       prepare_face_codes, refresh_face_codes_kernel,
                                       refresh_stage_kernel, rkl_stage_kernel,
                                       rkl_stage_kernel_reference)
from mcsim.reference import step_numba, step_numpy
from mcsim.state import FIELD_NAMES, State, full_amount_table
from mcsim.stepper import neutral_coefficients


@numba.njit(parallel=True, cache=True)
def _stream_copy(src, dst):
    for i in numba.prange(src.size):
        dst[i] = src[i]


def memory_roof(n_bytes: int = 2**28, repeat: int = 5) -> float:
    """Streaming-copy bandwidth in GB/s (bytes read + bytes written), best of ``repeat``."""
    src = np.ones(n_bytes // 8, dtype=np.float64)
    dst = np.empty_like(src)
    _stream_copy(src, dst)  # compile and touch pages
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        _stream_copy(src, dst)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def bench_state(size: int, seed: int = 7):
    """A ``size``^3 state cut from a generated particle (source, hydroxide, pores), and the
    generator's time in seconds."""
    voxel_nm = 10.0
    source_nm = 200.0
    radius_nm = (size * voxel_nm - 2 * (source_nm + 2 * voxel_nm)) / 2
    t0 = time.perf_counter()
    micro = generate_agglomerate(radius_um=radius_nm / 1000, voxel_nm=voxel_nm,
                                 source_diameter_nm=source_nm, seed=seed)
    gen_s = time.perf_counter() - t0
    n = micro.phase.shape[0]
    if n != size:  # crop or pad to exactly size^3 around the centre
        for name in ("phase", "grain"):
            arr = getattr(micro, name)
            out = np.zeros((size,) * 3, dtype=arr.dtype)
            m = min(n, size)
            a, b = (n - m) // 2, (size - m) // 2
            out[b:b + m, b:b + m, b:b + m] = arr[a:a + m, a:a + m, a:a + m]
            setattr(micro, name, out)
    state = State.from_microstructure(micro)
    state.li[1:-1, 1:-1, 1:-1] = np.where(state.interior("phase") != ph.PORE, 300.0, 0.0)
    return state, gen_s


#: Label of the kernels of 2026-12-04, kept for comparison (``legacy=True``).
PREVIOUS = "previous (2026-12-04)"


def _kernels(state):
    """(name, bytes of compulsory memory traffic per voxel, callable) for every kernel; the
    kernels of 2026-12-04 next to those that replaced them."""
    out = state.scratch_array()
    codes = state.face_codes()
    full = full_amount_table()
    off = (*state.offset, *state.global_shape[1:])
    coef = neutral_coefficients()
    coef[S.C_P_REL_LIOH] = coef[S.C_P_REL_LI2O] = coef[S.C_P_REL_CO3] = 1e-4
    coef[S.C_P_LIOH_DECOMP] = 1e-5
    coef[S.C_KDT_LITH] = coef[S.C_KDT_DEHYD] = coef[S.C_KDT_RS] = 1e-4
    coef[S.C_ANNEAL] = 0.999
    face_codes_kernel(state.phase, state.grain, MOBILITY, codes)
    dirty = state.dirty_flags()
    ext = state.row_extents()  # the rows' open runs, as a step's first stage records them
    rkl_stage_kernel(codes, state.li, state.li, out, 1.5, -0.5, 0.1, 0.001, ext)
    runs = ext[1:-1, 1:-1].astype(np.int64)
    in_runs = np.maximum(runs[..., 1] - runs[..., 0] + 1, 0).sum() / np.prod(state.shape)

    def reactions(legacy):
        return lambda: reaction_kernel(state.phase, state.grain, state.amount, state.li,
                                       state.disorder, coef, full, 1, state.step, *off, dirty,
                                       legacy=legacy)

    return [
        ("reactions (fused, per step)", 8, reactions(False)),
        (f"reactions, {PREVIOUS}", 8, reactions(True)),
        ("transport face classes, full (first step)", 7,
         lambda: face_codes_kernel(state.phase, state.grain, MOBILITY, codes)),
        (f"face-class refresh, {PREVIOUS}", 1,
         lambda: refresh_face_codes_kernel(state.phase, state.grain, MOBILITY, codes, dirty)),
        ("transport sub-step with the refresh", 11,
         lambda: refresh_stage_kernel(state.phase, state.grain, MOBILITY, codes, dirty,
                                      state.li, state.li, out, 1.0, 0.0, 0.1, 0.001)),
        ("transport sub-step (7-point)", 10,
         lambda: diffuse_kernel(codes, state.li, out, 0.1, 0.001)),
        (f"transport sub-step, {PREVIOUS}", 10,
         lambda: diffuse_kernel_reference(codes, state.li, out, 0.1, 0.001)),
        ("transport RKL1 stage (7-point)", 14,
         lambda: rkl_stage_kernel(codes, state.li, state.li, out, 1.5, -0.5, 0.1, 0.001)),
        ("RKL1 stage, later in a step (runs kept)", 14 * in_runs,  # the runs' voxels only
         lambda: rkl_stage_kernel(codes, state.li, state.li, out, 1.5, -0.5, 0.1, 0.001, ext,
                                  KEPT)),
        (f"RKL1 stage, {PREVIOUS}", 14,
         lambda: rkl_stage_kernel_reference(codes, state.li, state.li, out, 1.5, -0.5, 0.1,
                                            0.001)),
        ("restructure (6 pair sweeps)", 6,
         lambda: restructure_kernel(state.phase, state.grain, state.amount, state.li,
                                    state.disorder, 1e-3, 1e-3, full, 1, state.step, *off,
                                    state.dirty_flags())),
        ("census (diagnostics)", 7,
         lambda: census_kernel(state.phase, state.amount, state.li, ph.N_PHASES)),
    ]


def _time(fn, repeat: int) -> float:
    fn()  # compile / warm
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_bench(size: int = 256, threads=None, repeat: int = 5, json_path=None, out=print) -> dict:
    """Measure and print the roof and every kernel's voxel-updates per second per core."""
    max_threads = numba.config.NUMBA_NUM_THREADS
    threads = sorted({min(t, max_threads) for t in (threads or [1, max_threads])})
    result = {"machine": platform.node(), "processor": platform.processor() or platform.machine(),
              "numba_threads_available": max_threads, "lattice": size, "kernels": [], "roof": {}}
    out(f"mcsim bench: {size}^3 lattice ({size ** 3:.3g} voxels), threads {threads}, "
        f"best of {repeat}")
    for t in threads:
        numba.set_num_threads(t)
        result["roof"][t] = memory_roof(repeat=repeat)
        out(f"memory-bandwidth roof (streaming copy, {t} thread(s)): {result['roof'][t]:.1f} GB/s")
    numba.set_num_threads(max_threads)
    state, gen_s = bench_state(size)
    result["generator_s"] = gen_s
    out(f"generator: {size}^3 particle in {gen_s:.1f} s (Numba cache as found: a first run compiles)")
    t0 = time.perf_counter()
    n_rng = 10**7
    rng.uniform_array(1, 1, np.arange(1000, dtype=np.int64), 0)
    t0 = time.perf_counter()
    rng.uniform_array(1, 1, np.arange(n_rng, dtype=np.int64), 0)
    rng_rate = n_rng / (time.perf_counter() - t0)
    result["rng_per_s"] = rng_rate
    out(f"philox4x64 uniforms ({max_threads} threads): {rng_rate:.3g} /s")
    header = f"{'kernel':42s} {'threads':>7s} {'voxel-upd/s':>12s} {'per core':>10s} " \
             f"{'B/voxel':>7s} {'% of roof':>9s}"
    out(header)
    out("-" * len(header))
    n = size ** 3
    for name, bytes_per_voxel, fn in _kernels(state):
        for t in threads:
            numba.set_num_threads(t)
            seconds = _time(fn, repeat)
            rate = n / seconds
            roof_rate = result["roof"][t] * 1e9 / bytes_per_voxel
            row = {"kernel": name, "threads": t, "voxel_updates_per_s": rate,
                   "per_core": rate / t, "bytes_per_voxel": bytes_per_voxel,
                   "fraction_of_roof": rate / roof_rate}
            result["kernels"].append(row)
            out(f"{name:42s} {t:7d} {rate:12.3g} {rate / t:10.3g} {bytes_per_voxel:7.3g} "
                f"{100 * rate / roof_rate:8.1f}%")
    numba.set_num_threads(max_threads)
    full = bench_full_step(size, threads, max(1, min(repeat, 3)))
    result["full_step"] = full
    out(f"full reaction-diffusion step ({size}^3: fused reactions, face classes refreshed around "
        f"changed voxels, one transport sub-step), the kernels of 2026-12-04 timed alternately "
        f"with the new ones:")
    for row, prev in zip(full["numba"], full["numba_previous"]):
        t = row["threads"]
        roof = result["roof"][t] * 1e9 / FULL_STEP_BYTES
        out(f"  Numba, {t} thread(s): {row['voxel_updates_per_s']:.3g} voxel-updates/s, "
            f"{row['per_core']:.3g} per core ({100 * row['voxel_updates_per_s'] / roof:.1f}% of "
            f"the roof at {FULL_STEP_BYTES} B/voxel); {PREVIOUS}: {prev['per_core']:.3g} per "
            f"core; speed-up {row['per_core'] / prev['per_core']:.2f}x")
    out(f"  NumPy (same step, whole-array operations, 1 core): {full['numpy']['per_core']:.3g} "
        f"voxel-updates/s; Numba per core / NumPy = {full['speedup_per_core']:.1f}x")
    result["sintering"] = bench_sintering(size, threads, repeat, out=out)
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(result, fh, indent=2, default=str)
    return result


#: Compulsory memory traffic of the full step per voxel: the reaction sweep's 8 B and the
#: transport sub-step's 10 B, its change flags 1 B (the face classes around changed voxels
#: are a small part).
FULL_STEP_BYTES = 19


def bench_full_step(size: int = 256, threads=None, repeat: int = 3) -> dict:
    """Voxel-updates/s per core of the full reaction-diffusion step (the fused reaction sweep,
    the after-sweep hooks, a halo refresh, the face classes refreshed around changed voxels
    and one transport sub-step, the swap), as the engine does it: Numba at each thread count,
    the kernels of 2026-12-04 (``step_numba(legacy=True)``, key ``numba_previous``) timed
    alternately with the new ones (key ``numba``, ``speedup_vs_previous``), against the plain
    NumPy implementation of the same step (:mod:`mcsim.reference`, one core). Every timed
    call starts from the same state, so all do exactly the same work."""
    max_threads = numba.config.NUMBA_NUM_THREADS
    threads = sorted({min(t, max_threads) for t in (threads or [1, max_threads])})
    state, _ = bench_state(size)
    coef = neutral_coefficients()
    coef[[S.C_P_REL_LIOH, S.C_P_REL_LI2O, S.C_P_REL_CO3, S.C_P_LIOH_DECOMP]] = 0.01
    coef[[S.C_KDT_LITH, S.C_KDT_DEHYD, S.C_KDT_RS]] = (0.01, 0.005, 0.01)
    coef[S.C_DISORDER_NEW] = 20
    coef[S.C_ANNEAL] = 0.99
    full = full_amount_table()
    pristine = {n: getattr(state, n).copy() for n in FIELD_NAMES}
    pristine_codes = prepare_face_codes(state).copy()

    def restore():
        for n in FIELD_NAMES:
            np.copyto(getattr(state, n), pristine[n])
        np.copyto(state.face_codes(), pristine_codes)
        state.dirty_flags()[...] = 0

    def best_of(*steps):
        for step in steps:  # compile, warm caches and scratch buffers
            restore()
            step(state, coef, full, 1, 0.1, 0.001)
        best = [math.inf] * len(steps)
        for _ in range(repeat):  # alternately, so a busier moment hits all alike
            for i, step in enumerate(steps):
                restore()
                t0 = time.perf_counter()
                step(state, coef, full, 1, 0.1, 0.001)
                best[i] = min(best[i], time.perf_counter() - t0)
        return best

    def previous(*args):
        return step_numba(*args, legacy=True)

    n = size ** 3
    result = {"lattice": size, "numba": [], "numba_previous": [], "speedup_vs_previous": {}}
    for t in threads:
        numba.set_num_threads(t)
        for key, seconds in zip(("numba", "numba_previous"), best_of(step_numba, previous)):
            result[key].append({"threads": t, "seconds": seconds,
                                "voxel_updates_per_s": n / seconds, "per_core": n / seconds / t})
        result["speedup_vs_previous"][t] = (result["numba_previous"][-1]["seconds"]
                                            / result["numba"][-1]["seconds"])
    numba.set_num_threads(max_threads)
    seconds, = best_of(step_numpy)
    result["numpy"] = {"threads": 1, "seconds": seconds, "voxel_updates_per_s": n / seconds,
                       "per_core": n / seconds}
    result["speedup_per_core"] = result["numba"][0]["per_core"] / result["numpy"]["per_core"]
    return result


def bench_sintering(size: int = 256, threads=None, repeat: int = 3, grain_vox: float = 3.5,
                    out=print) -> dict:
    """Attempted site updates per second per core of the Potts grain-growth sweep (26-neighbour
    stencil, one MCS = 8 colour sub-sweeps) on a dense ``size``^3 Voronoi polycrystal of
    ``grain_vox``-voxel grains (35 nm at 10 nm voxels), and the pore-migration rate on the same
    polycrystal with a fifth of its grains turned into intergranular pore.

    An attempt is a solid site visited in a colour sub-sweep: it picks one of its 26
    neighbours and, when that is a solid of another grain (a *candidate*; the fraction is
    reported), evaluates n_g - n_g' over its 3 x 3 x 3 box and decides. A timed MCS is the
    whole driver (:func:`mcsim.processes.sintering.grain_growth_mcs`: marking the non-solid
    grain ids, the sweeps, the unmarking); every timed call starts from the same lattice.

    Besides the wall-clock rates, the Potts and pore-migration rows give the rate per
    CPU-second of the process (the best ``time.process_time`` of the repeats): on a shared
    machine a kernel that waits for a core loses wall-clock rate but not CPU time, so this
    figure tells a slower kernel from a busier machine (with several threads it also counts
    the time threads spin at barriers).
    """
    max_threads = numba.config.NUMBA_NUM_THREADS
    threads = sorted({min(t, max_threads) for t in (threads or [1, max_threads])})
    n = size ** 3
    grain = si.polycrystal((size,) * 3, grain_vox, seed=11)
    state = State.from_arrays(np.full((size,) * 3, ph.LAYERED, dtype=np.uint8), grain)
    pristine = state.grain.copy()
    table = si.grain_growth_accept_table(2.0)
    result = {"lattice": size, "grain_vox": grain_vox, "neighbourhood": 26,
              "grain_growth": [], "pore_migration": []}

    def gg_mcs():
        return si.drive(state, si.grain_growth_mcs(state, table, 1, 0))

    out(f"sintering, Potts grain growth (26-neighbour stencil, energy over the 3x3x3 box, 8 "
        f"colour sub-sweeps per MCS) on a {size}^3 polycrystal of {grain_vox:g}-voxel grains:")
    for t in threads:
        numba.set_num_threads(t)
        np.copyto(state.grain, pristine)
        gg_mcs()  # compile / warm
        best = best_cpu = math.inf
        for _ in range(repeat):
            np.copyto(state.grain, pristine)
            t0, c0 = time.perf_counter(), time.process_time()
            flips, candidates = gg_mcs()
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        row = {"threads": t, "seconds_per_mcs": best, "attempts_per_s": n / best,
               "per_core": n / best / t, "per_cpu_second": n / best_cpu,
               "candidate_fraction": candidates / n, "flips": flips}
        result["grain_growth"].append(row)
        out(f"  {t} thread(s): {n / best:.3g} attempts/s, {n / best / t:.3g} per core, "
            f"{n / best_cpu:.3g} per CPU-second ({100 * candidates / n:.0f} % of attempts pick "
            "a neighbour of another grain)")
    # pore migration: a fifth of the grains become intergranular pore (label -1)
    pores = (pristine % 5) == 0
    pores[0] = pores[-1] = pores[:, 0] = pores[:, -1] = pores[:, :, 0] = pores[:, :, -1] = False
    phase0 = np.where(pores, ph.PORE, ph.LAYERED).astype(np.uint8)
    grain0 = np.where(pores, -1, pristine).astype(np.int32)
    s = si.contact_field(state)
    pm_table = si.pore_migration_accept_table(1.0)

    def restore():
        np.copyto(state.phase, phase0)
        np.copyto(state.grain, grain0)
        state.amount[...] = np.where(pores, 0, state.amount.max())
        si.contact_count_kernel(state.phase, s)

    anchors = n / 12
    for t in threads:
        numba.set_num_threads(t)
        restore()
        si.drive(state, si.pore_migration_mcs(state, pm_table, 1, 0))  # compile / warm
        best_sub = best_mcs = best_cpu = math.inf
        for _ in range(repeat):
            restore()
            t0, c0 = time.perf_counter(), time.process_time()
            si.pore_migration_kernel(state.phase, state.grain, state.amount, state.li,
                                     state.disorder, s, state.dirty_flags(), pm_table, 1, 0, 0,
                                     np.array([0]), *state.offset, *state.global_shape)
            best_sub = min(best_sub, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
            restore()
            t0 = time.perf_counter()
            si.drive(state, si.pore_migration_mcs(state, pm_table, 1, 0))
            best_mcs = min(best_mcs, time.perf_counter() - t0)
        row = {"threads": t, "seconds_per_subsweep": best_sub, "pairs_per_s": anchors / best_sub,
               "per_core": anchors / best_sub / t, "per_cpu_second": anchors / best_cpu,
               "seconds_per_mcs": best_mcs, "mcs_pairs_per_s": 3 * n / best_mcs}
        result["pore_migration"].append(row)
        out(f"  pore migration ({100 * pores.mean():.0f} % pore), {t} thread(s): "
            f"{anchors / best_sub:.3g} pairs/s per sub-sweep ({anchors / best_sub / t:.3g} per "
            f"core, {anchors / best_cpu:.3g} per CPU-second), one MCS (36 sub-sweeps, 3N pairs) "
            f"{best_mcs:.3f} s ({3 * n / best_mcs:.3g} pairs/s)")
    # densification: the same porous polycrystal inside a two-voxel rim of outside pore, with
    # the vacancy constraint and the curvature factor on (events, per-cell counts, sink scan and
    # moves: one whole MCS)
    rim = np.ones((size,) * 3, dtype=bool)
    rim[2:-2, 2:-2, 2:-2] = False
    result["densification"] = []
    p_event = 0.05

    def restore_rim():
        restore()
        state.phase[1:-1, 1:-1, 1:-1][rim] = ph.PORE
        state.grain[1:-1, 1:-1, 1:-1][rim] = 0
        state.amount[1:-1, 1:-1, 1:-1][rim] = 0
        si.contact_count_kernel(state.phase, s)

    for t in threads:
        numba.set_num_threads(t)
        restore_rim()
        si.drive(state, si.densification_mcs(state, p_event, 1, 0, constraint_per_nm=1 / 40,
                                             curvature_weight=1.0))
        best = math.inf
        for _ in range(repeat):
            restore_rim()
            t0 = time.perf_counter()
            done, _ = si.drive(state, si.densification_mcs(state, p_event, 1, 0,
                                                           constraint_per_nm=1 / 40,
                                                           curvature_weight=1.0))
            best = min(best, time.perf_counter() - t0)
        row = {"threads": t, "seconds_per_mcs": best, "voxels_per_s": n / best,
               "per_core": n / best / t, "vacancies": done}
        result["densification"].append(row)
        out(f"  densification (p = {p_event:g}, constraint and curvature on), {t} thread(s): "
            f"one MCS {best:.3f} s, {n / best:.3g} voxels/s ({n / best / t:.3g} per core), {done} "
            "vacancies annihilated")
    numba.set_num_threads(max_threads)
    return result
