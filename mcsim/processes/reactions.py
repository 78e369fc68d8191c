"""The fused reaction sweep: every local reaction of one step in one pass over the lattice.

Release from the source, LiOH decomposition, lithiation against dehydration, rock-salt
lithiation and disorder annealing act on a voxel's own fields only, so they are applied in one
sweep. Each process owns its physics in its module (:mod:`mcsim.processes.release`,
:mod:`~mcsim.processes.lithiation`, ...): its rule for one voxel, its NumPy reference, the
coefficients it fills and the tallies it reports with their heat and gas
(:class:`mcsim.processes.registry.LocalReaction`). This module holds what the rules share --
the voxel's random numbers (:func:`below`, :func:`lane0`, :func:`lane1`) and
:func:`neg_expm1` -- and assembles the sweep: :func:`kernel_source` writes a kernel that loops
over the lattice and, per voxel, calls the rule of the voxel's phase; Numba inlines the rules
(``inline="always"``), so the sweep compiles to the hand-fused loop it replaces. The source is
kept on disk, named by a digest of itself and of every file the inlined rules come from, so the
compiled kernel is cached across runs and a changed rule is never served from a stale cache.

Voxels are independent, so the sweep is parallel over z-planes and its result does not depend
on the number of threads; the random numbers are keyed by global voxel index and step.

Random numbers. Every decision of the sweep is a comparison ``u < p`` of a voxel's uniform with
a probability (an event, or the stochastic rounding of a released amount). A voxel's uniform is
``u = (c + f) / 2^16``: its top 16 bits ``c`` are one 16-bit lane of a Philox block shared by 16
consecutive global indices (a block has 256 bits), and its fine part ``f`` (53 bits) comes from a
block of the voxel's own, drawn only when ``c`` alone cannot decide the comparison, i.e. when
``c == floor(p 2^16)`` (probability 2^-16 per comparison). ``c`` and ``f`` are independent and
uniform, so ``u`` is exactly uniform to 69 bits and every decision has exactly the probability
it should; one Philox block then serves 16 voxels instead of one, which is most of the sweep's
cost saved. Source voxels, which make two independent decisions, use the lanes of two blocks.
Counters: lanes (index // 16, step, 0 or 1, 0), fine parts (index, step, 2 or 3, 0), stream
:data:`mcsim.rng.STREAM_REACTION`, key word 0 the seed. A voxel's rule uses the lane of block 0
(:func:`lane0`) for its first decision and that of block 1 (:func:`lane1`) for a second,
independent one; fine parts with sub-counters 2 and 3 respectively.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
import os
import sys
import tempfile
import types
from pathlib import Path

import numba
import numpy as np
from numba.extending import intrinsic

from mcsim import phases as ph
from mcsim import rng
from mcsim.processes import registry


@numba.njit(inline="always")
def _round_stochastic(x, u):
    """floor(x) + (u < frac(x)) for a float uniform ``u`` (disorder annealing's shared dither)."""
    n = int(x)
    if u < x - n:
        n += 1
    return n


#: 2^16: the coarse part of a voxel's uniform has 16 bits.
LANES = 65536.0
_SUB_FINE = (2, 3)
_lane = rng.lane16  # the 16-bit lane of global index g in its group's block (16 per block)


@numba.njit(inline="always")
def _lane_2026_12_04(w0, w1, w2, w3, j):
    """:func:`mcsim.rng.lane16` as it was on 2026-12-04 (a four-way choice of the word, which
    compiles to a jump table), for the kernel of that day: the same lane."""
    k = (j >> 2) & 3
    w = w0 if k == 0 else (w1 if k == 1 else (w2 if k == 2 else w3))
    return np.int64((w >> np.uint64(16 * (j & 3))) & rng._MASK16)


@numba.njit(inline="always")
def _lane_of(lanes, w0, w1, w2, w3, j):
    """The lane of ``j`` in a block, extracted as the kernel (told by its cache) does it."""
    if len(lanes) == _LEGACY_LANES:
        return _lane_2026_12_04(w0, w1, w2, w3, j)
    return _lane(w0, w1, w2, w3, j)


@numba.njit(inline="always")
def below(c, p, seed, g, step, sub):
    """Whether ``u < p`` for the uniform ``u = (c + f) / 2^16`` of voxel ``g`` whose coarse part
    is ``c``; the fine part ``f`` (sub-counter ``sub``) is drawn only on a tie of ``c`` with
    ``floor(p 2^16)``. Exact: ``p 2^16`` and its fractional part are computed without rounding."""
    t = p * LANES
    k = np.int64(t)
    if c < k:
        return True
    if c > k:
        return False
    f, _, _, _ = rng.uniform_sub(seed, rng.STREAM_REACTION, g, step, sub)
    return f < t - k


@numba.njit(inline="always")
def _round_below(x, c, seed, g, step, sub):
    """floor(x) + (u < frac(x)) for x >= 0 with the voxel's uniform ``u`` (see :func:`below`)."""
    n = int(x)
    t = (x - n) * LANES
    k = np.int64(t)
    n += np.int64(c < k)  # no branch: the rounding is a coin toss the CPU cannot predict
    if c == k:
        f, _, _, _ = rng.uniform_sub(seed, rng.STREAM_REACTION, g, step, sub)
        n += np.int64(f < t - k)
    return n


@numba.njit(inline="always")
def _round_below_2026_12_04(x, c, seed, g, step, sub):
    """:func:`_round_below` as it was on 2026-12-04 (a branch on the coarse comparison)."""
    n = int(x)
    if below(c, x - n, seed, g, step, sub):
        n += 1
    return n


@numba.njit(inline="always")
def round_below(lanes, x, c, seed, g, step, sub):
    """:func:`_round_below`, or in the kernel of 2026-12-04 (told by its lane cache, see
    :func:`_block`) that day's version: the same result."""
    if len(lanes) == _LEGACY_LANES:
        return _round_below_2026_12_04(x, c, seed, g, step, sub)
    return _round_below(x, c, seed, g, step, sub)


#: Below this argument, 1 - exp(-x) is evaluated by its Taylor series (7 terms: the first
#: term left out is below 2^-53 of the result), which is much cheaper than libm's expm1.
SERIES_MAX = 2.0 ** -7
_C2, _C3, _C4, _C5, _C6, _C7 = 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040  # 1/k!


@numba.njit(inline="always")
def neg_expm1(x):
    """1 - exp(-x) for x >= 0: the Taylor series below SERIES_MAX, libm's expm1 above."""
    if x < SERIES_MAX:
        return x * (1.0 - x * (_C2 - x * (_C3 - x * (_C4 - x * (_C5 - x * (_C6 - x * _C7))))))
    return -math.expm1(-x)


@numba.njit(inline="always")
def _philox(c0, c1, c2, c3, k0, k1):
    """:func:`mcsim.rng.philox4x64`, compiled into the sweep: the same arithmetic, so the same
    block (tested against it); a call would save and restore the row's state around every
    block."""
    x0 = np.uint64(c0)
    x1 = np.uint64(c1)
    x2 = np.uint64(c2)
    x3 = np.uint64(c3)
    key0 = np.uint64(k0)
    key1 = np.uint64(k1)
    x0, x1, x2, x3 = rng._philox_round(x0, x1, x2, x3, key0, key1)
    for _ in range(rng._N_ROUNDS - 1):
        key0 = key0 + rng._WEYL0
        key1 = key1 + rng._WEYL1
        x0, x1, x2, x3 = rng._philox_round(x0, x1, x2, x3, key0, key1)
    return x0, x1, x2, x3


@numba.njit(inline="always")
def _block(lanes, grp, step, sub, seed):
    """Philox block ``sub`` of group ``grp``: drawn inline (:func:`_philox`), or, in the
    kernel of 2026-12-04 (:func:`fused_kernel` with ``legacy=True``, whose lane caches carry
    one more entry), by a call of :func:`mcsim.rng.philox4x64`, as it was. The same block
    either way; the test on the cache's length is decided when the kernel is compiled."""
    if len(lanes) == _LEGACY_LANES:
        return rng.philox4x64(grp, step, sub, 0, seed, rng.STREAM_REACTION)
    return _philox(grp, step, sub, 0, seed, rng.STREAM_REACTION)


_LEGACY_LANES = 11


@numba.njit(inline="always")
def no_lanes():
    """The row's cache of its current groups' Philox blocks (none yet): the group of block 0
    and its four words, the group of block 1 and its four words."""
    zero = np.uint64(0)
    return (np.int64(-1), zero, zero, zero, zero, np.int64(-1), zero, zero, zero, zero)


@numba.njit(inline="always")
def no_lanes_legacy():
    """:func:`no_lanes` for the kernel of 2026-12-04, which called Philox (a marker entry)."""
    zero = np.uint64(0)
    return (np.int64(-1), zero, zero, zero, zero, np.int64(-1), zero, zero, zero, zero,
            np.int8(0))


@numba.njit(inline="always")
def lane0(lanes, g, seed, step):
    """The 16-bit lane of voxel ``g`` in its group's block 0 (computed when a voxel of the group
    first needs it), and the updated cache."""
    grp = g >> 4
    if grp != lanes[0]:
        q0, q1, q2, q3 = _block(lanes, grp, step, 0, seed)
        lanes = (grp, q0, q1, q2, q3) + lanes[5:]
    return lanes, _lane_of(lanes, lanes[1], lanes[2], lanes[3], lanes[4], g)


@numba.njit(inline="always")
def lane1(lanes, g, seed, step):
    """As :func:`lane0`, in the group's block 1 (a voxel's second, independent decision)."""
    grp = g >> 4
    if grp != lanes[5]:
        r0, r1, r2, r3 = _block(lanes, grp, step, 1, seed)
        lanes = lanes[:5] + (grp, r0, r1, r2, r3) + lanes[10:]
    return lanes, _lane_of(lanes, lanes[6], lanes[7], lanes[8], lanes[9], g)


# ---------------------------------------------------------------------------------------------
# Assembly of the sweep from the registered rules
# ---------------------------------------------------------------------------------------------

@intrinsic
def borrowed(typingctx, arr):
    """A view of array ``arr`` that owns no reference (null meminfo and parent): for arrays
    that outlive their use, such as a kernel's arguments within the kernel.

    Numba counts references to arrays, and a rule inlined into the sweep receives the fields
    as arguments, so each call would otherwise increment and decrement eight counts, atomically,
    per voxel (about three times the cost of the sweep); on a borrowed view these operations
    see a constant null and compile away."""
    def codegen(context, builder, signature, args):
        src = context.make_array(arr)(context, builder, value=args[0])
        out = context.make_array(arr)(context, builder)
        for name in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(out, name, getattr(src, name))
        out.meminfo = context.get_constant_null(numba.types.MemInfoPointer(numba.types.voidptr))
        out.parent = context.get_constant_null(numba.types.pyobject)
        return out._getvalue()

    return arr(arr), codegen


#: The generated kernel's name, arguments and contract (see :func:`reaction_kernel`).
KERNEL_ARGS = ("phase, grain, amount, li, disorder, coef, full, seed, step, oz, oy, ox, gny, "
               "gnx, dirty")
_RULE_ARGS = ("phase, grain, amount, li, disorder, dirty, tal, cnt, z, y, x, c, g, lanes, seed, "
              "step")
_FIELDS = ("phase", "grain", "amount", "li", "disorder", "dirty", "tal", "cnt")
_PLANE_ARGS = ("phase, grain, amount, li, disorder, dirty, tal, cnt, seed, step, oz, oy, ox, gny, "
               "gnx")


def _branches(rules) -> list:
    """(phase codes, indices of the rules acting on them, in order) for every group of phase
    codes with the same rules: those of one code first, in order of their first rule."""
    by_code = {}
    for i, (_, rule) in enumerate(rules):
        for code in rule.phases:
            by_code.setdefault(int(code), []).append(i)
    groups = {}
    for code in sorted(by_code):
        groups.setdefault(tuple(by_code[code]), []).append(code)
    return sorted(((codes, idx) for idx, codes in groups.items()),
                  key=lambda b: (len(b[0]), b[1][0]))


def kernel_source(rules, lay, legacy: bool = False) -> str:
    """Python source of the fused sweep over ``rules`` ((process name, Rule) in step order)
    with slot layout ``lay``; the rules' functions are the module globals ``_prepare_<i>`` and
    ``_apply_<i>``.

    ``legacy``: the kernel of 2026-12-04 (bound with :func:`no_lanes_legacy`, which makes it
    call Philox as it did; the source differs by a comment, so it is cached apart)."""
    def slots(names, index):
        return repr(tuple(index(n) for n in names))

    ks = "".join(f"k{i}, " for i in range(len(rules)))
    lines = [
        '"""The fused reaction sweep, written by mcsim.processes.reactions.kernel_source from the',
        'registered local reactions: ' + ", ".join(n for n, _ in rules) + '.',
        'Generated: do not edit (a changed rule gives a new file)."""',
        *(["# legacy: the kernel of 2026-12-04"] if legacy else []),
        "",
        "import numba",
        "import numpy as np",
        "",
        "",
        "@numba.njit  # compiled into the kernel below, and cached with it",
        f"def _plane(z, {ks}{_PLANE_ARGS}):",
        "    # the rules are inlined: hand them views that cost no reference counting",
        *(f"    {a} = _borrowed({a})" for a in _FIELDS),
        "    ny = phase.shape[1] - 2",
        "    nx = phase.shape[2] - 2",
    ]
    branches = _branches(rules)
    claimed = {code for codes, _ in branches for code in codes}
    unclaimed = [code for code in range(ph.N_PHASES) if code not in claimed]
    if unclaimed and not legacy:
        # Pores have no rule. The row's other voxels are listed first, without a branch
        # (every x is written, the count advances only past a voxel with a rule), and the
        # rules run on the list, in the same order: a test per voxel that jumps at every
        # pore-solid boundary costs a mispredicted branch each time. A rule changes only its
        # own voxel, never a pore, so the list stays valid.
        has_rule = " & ".join(f"(c != {code})" for code in unclaimed)
        lines += [
            "    todo = np.empty(nx, dtype=np.int64)  # x of the row's voxels with a rule",
            "    for y in range(1, ny + 1):",
            "        row = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + ox - 1",
            "        lanes = _no_lanes()",
            "        n = 0",
            "        for x in range(1, nx + 1):",
            "            c = phase[z, y, x]",
            "            todo[n] = x",
            f"            n += np.int64({has_rule})",
            "        for i in range(n):",
            "            x = todo[i]",
            "            c = phase[z, y, x]",
        ]
    else:
        lines += [
            "    for y in range(1, ny + 1):",
            "        row = ((oz + z - 1) * gny + (oy + y - 1)) * gnx + ox - 1",
            "        lanes = _no_lanes()",
            "        for x in range(1, nx + 1):",
            "            c = phase[z, y, x]",
        ]
        if unclaimed:  # pores: no rule, one test
            lines.append(f"            if {' or '.join(f'c == {code}' for code in unclaimed)}:")
            lines.append("                continue")
    lines.append("            g = row + x  # the voxel's global index")
    for j, (codes, idx) in enumerate(branches):
        test = " or ".join(f"c == {code}" for code in codes)
        rest = set(range(ph.N_PHASES)) - set(unclaimed) - {k for b, _ in branches[:j] for k in b}
        if 0 < j == len(branches) - 1 and set(codes) == rest:
            lines.append(f"            else:  # {test}")  # all codes left: no test needed
        else:
            lines.append(f"            {'elif' if j else 'if'} {test}:")
        for i in idx:
            name, rule = rules[i]
            lines.append(f"                lanes = _apply_{i}(  # {name}")
            lines.append(f"                    k{i}, {slots(rule.tallies, lay.tally)}, "
                         f"{slots(rule.counts, lay.count)}, {_RULE_ARGS})")
    lines += [
        "",
        "",
        "@numba.njit(parallel=True, cache=True)",
        f"def fused_reaction_kernel({KERNEL_ARGS}):",
        "    nz = phase.shape[0] - 2",
        f"    tal = np.zeros((nz, {len(lay.tallies)}), dtype=np.int64)",
        f"    cnt = np.zeros((nz, {len(lay.counts)}), dtype=np.int64)",
    ]
    for i, (name, rule) in enumerate(rules):
        lines.append(f"    k{i} = _prepare_{i}(coef, {slots(rule.reads, lay.coef)}, full, seed, "
                     f"step)  # {name}")
    lines += [
        "    for z in numba.prange(1, nz + 1):",
        f"        _plane(z, {ks}{_PLANE_ARGS})",
    ]
    lines.append("    return tal.sum(axis=0), cnt.sum(axis=0)")
    return "\n".join(lines) + "\n"


def _source_files(functions) -> list:
    """The files the code of ``functions`` (Numba dispatchers or plain functions) comes from,
    following the jitted functions and modules they name: what an inlined rule is made of."""
    files, seen = set(), set()
    stack = list(functions)
    while stack:
        fn = stack.pop()
        py = getattr(fn, "py_func", fn)
        if id(py) in seen or not hasattr(py, "__code__"):
            continue
        seen.add(id(py))
        path = inspect.getsourcefile(py)
        if path:
            files.add(path)
        for name in py.__code__.co_names:
            value = py.__globals__.get(name)
            if isinstance(value, numba.core.dispatcher.Dispatcher):
                stack.append(value)
            elif isinstance(value, types.ModuleType) and getattr(value, "__file__", None):
                files.add(value.__file__)
    return sorted(files)


def _kernel_dir():
    """A writable folder for the generated kernels: under ``NUMBA_CACHE_DIR`` when set, else
    beside this module (``__pycache__/fused``), else the user's cache, else the temp folder."""
    candidates = []
    if numba.config.CACHE_DIR:
        candidates.append(Path(numba.config.CACHE_DIR) / "mcsim-fused")
    candidates.append(Path(__file__).parent / "__pycache__" / "fused")
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates.append(Path(xdg) / "mcsim" / "fused")
    candidates.append(Path(tempfile.gettempdir()) / f"mcsim-fused-{os.getuid()}")
    for d in candidates:
        try:
            d.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=d).close()
            return d
        except OSError:
            continue
    return None


def _load(source: str, bindings: dict):
    """Import the generated ``source`` as a module (from a file named by its digest, so that
    Numba caches its compiled kernel) with ``bindings`` as globals; return the kernel."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    modname = f"mcsim_fused_{digest}"
    directory = _kernel_dir()
    if directory is None:  # nowhere to write: compile in memory, without Numba's cache
        mod = types.ModuleType(modname)
        mod.__dict__.update(bindings)
        exec(compile(source.replace("cache=True", "cache=False"), modname, "exec"), mod.__dict__)
        return mod.fused_reaction_kernel
    path = directory / f"fused_{digest}.py"
    if not path.exists() or path.read_text() != source:
        tmp = directory / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_text(source)
        os.replace(tmp, path)  # atomic: ranks writing the same kernel at once are harmless
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    mod.__dict__.update(bindings)
    spec.loader.exec_module(mod)
    sys.modules[modname] = mod
    return mod.fused_reaction_kernel


_FUSED = {}
#: Suffix of the rule functions as they were on 2026-12-04, which a rule's module keeps when
#: it has changed them since (``prepare_2026_12_04``, ``apply_2026_12_04``) for the kernel
#: of that day.
LEGACY_SUFFIX = "_2026_12_04"


def _legacy_rule(rule):
    """(prepare, apply) of ``rule`` as they were on 2026-12-04: the module's copies named with
    :data:`LEGACY_SUFFIX` where it keeps them, else the rule's own."""
    module = sys.modules.get(getattr(rule.apply, "__module__", ""), None)
    return (getattr(module, rule.prepare.__name__ + LEGACY_SUFFIX, rule.prepare),
            getattr(module, rule.apply.__name__ + LEGACY_SUFFIX, rule.apply))


def fused_kernel(legacy: bool = False):
    """The fused sweep of the registered local reactions (Numba dispatcher), assembled once per
    state of the registry; see :func:`reaction_kernel` for its arguments. ``legacy``: the
    kernel of 2026-12-04 (the same results, kept for comparison and ``mcsim bench``)."""
    key = (registry.version(), bool(legacy))
    if key not in _FUSED:
        rules = registry.local_rules()
        lay = registry.layout()
        lanes = no_lanes_legacy if legacy else no_lanes
        bindings = {"_no_lanes": lanes, "_borrowed": borrowed}
        funcs = [lanes, borrowed]
        for i, (_, rule) in enumerate(rules):
            prepare, apply = _legacy_rule(rule) if legacy else (rule.prepare, rule.apply)
            bindings[f"_prepare_{i}"] = prepare
            bindings[f"_apply_{i}"] = apply
            funcs += [prepare, apply]
        digest = hashlib.sha256()  # of the contents only: any checkout shares the kernel
        for path in _source_files(funcs):
            digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
        source = kernel_source(rules, lay, legacy) + f"# rule sources: {digest.hexdigest()}\n"
        for old in [k for k in _FUSED if k[0] != key[0]]:
            del _FUSED[old]
        _FUSED[key] = (_load(source, bindings), len(lay.coefficients))
    return _FUSED[key][0]


def reaction_kernel(phase, grain, amount, li, disorder, coef, full, seed, step, oz, oy, ox,
                    gny, gnx, dirty, legacy=False):
    """Advance every voxel's local reactions by one step (the fused sweep of the registered
    local reactions, :func:`fused_kernel`).

    Parameters
    ----------
    phase, grain, amount, li, disorder : ndarray
        State fields with a one-voxel halo (only the interior is touched).
    coef : float64 array, one entry per coefficient slot
        Per-step coefficients filled by the processes
        (:meth:`mcsim.processes.registry.Layout.neutral_coefficients` for all off).
    full : int32 array
        Quanta of a full voxel of each phase (:func:`mcsim.state.full_amount_table`).
    seed, step : int
        Key and counter words of the random numbers; ``oz, oy, ox`` the subdomain's global
        offset and ``gny, gnx`` the global lattice's row lengths.
    dirty : uint8 ndarray
        Set to 1 where a voxel's transport class or grain changes (see
        :func:`mcsim.processes.transport.refresh_face_codes`).
    legacy : bool
        Run the kernel of 2026-12-04 (:func:`fused_kernel`); the same results.

    Returns
    -------
    tallies : int64 array and counts : int64 array, numbered by
    :func:`mcsim.processes.registry.layout` (:mod:`mcsim.processes.slots`).
    """
    kernel = fused_kernel(legacy)
    n_coef = _FUSED[(registry.version(), bool(legacy))][1]
    if len(coef) != n_coef:
        raise ValueError(f"coefficient vector of {len(coef)} slots; the registered local "
                         f"reactions have {n_coef}")
    return kernel(phase, grain, amount, li, disorder, coef, full, seed, step, oz, oy, ox, gny,
                  gnx, dirty)
