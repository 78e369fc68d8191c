"""Counter-based Philox4x64-10 random numbers that Numba kernels can draw per voxel and step."""

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
import numpy as np

__all__ = [
    "philox4x64",
    "lane16",
    "uniform4",
    "uniform",
    "uniform_sub",
    "uniform_array",
    "STREAM_GENERATOR",
    "STREAM_SOURCE",
    "STREAM_TRANSPORT",
    "STREAM_LITHIATION",
    "STREAM_DEHYDRATION",
    "STREAM_ROCKSALT",
    "STREAM_DISORDER",
    "STREAM_SINTER",
    "STREAM_RESTRUCTURE",
    "STREAM_REACTION",
]

# Stream identifiers. Every stochastic process owns exactly one stream; the stream is the
# second key word, so two processes drawing for the same voxel and step use different keys
# and their numbers never collide, whatever order the processes run in.
#: Microstructure generator (particle placement, initial phases).
STREAM_GENERATOR = 1
#: Lithium-source decomposition and melting.
STREAM_SOURCE = 2
#: Mobile-lithium transport (hop directions and acceptance).
STREAM_TRANSPORT = 3
#: Topotactic lithiation of the transition-metal host.
STREAM_LITHIATION = 4
#: Dehydration of TM(OH)2 (the per-grain variant: one uniform per grain id and step).
STREAM_DEHYDRATION = 5
#: Rock-salt formation and its conversion back to layered.
STREAM_ROCKSALT = 6
#: Cation disorder (Li/Ni mixing).
STREAM_DISORDER = 7
#: Sintering and pore migration.
STREAM_SINTER = 8
#: Solid restructuring within grains: rock-salt ripening into nanopores, overflow of
#: expanding layered oxide, molten-source infiltration (pair updates).
STREAM_RESTRUCTURE = 9
#: The fused per-voxel reaction kernel (release, lithiation vs dehydration, rock-salt
#: lithiation, disorder annealing): 16-bit lanes of blocks shared by 16 voxels, see
#: :mod:`mcsim.processes.reactions`.
STREAM_REACTION = 10

# Philox4x64 constants (Salmon et al., SC'11), all kept as np.uint64 so that Numba never
# promotes a mixed signed/unsigned expression to float64.
_MUL0 = np.uint64(0xD2E7470EE14C6C93)
_MUL1 = np.uint64(0xCA5A826395121157)
_WEYL0 = np.uint64(0x9E3779B97F4A7C15)
_WEYL1 = np.uint64(0xBB67AE8584CAA73B)
_MASK32 = np.uint64(0xFFFFFFFF)
_MASK16 = np.uint64(0xFFFF)
_SHIFT32 = np.uint64(32)
_SHIFT11 = np.uint64(11)
_ZERO = np.uint64(0)
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0
_N_ROUNDS = 10


@intrinsic
def _mulhi64(typingctx, a, b):
    """High 64 bits of the 128-bit product of two uint64 (one ``mul`` on x86-64 and AArch64).

    Emitted as LLVM IR: both operands are widened to i128, multiplied, and the upper half is
    taken back, which the backend lowers to the machine's native 64x64 -> 128 multiply.
    """
    sig = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return sig, codegen


@numba.njit(inline="always", cache=True)
def _mulhilo64(a, b):
    """Full 64x64 -> 128-bit product of two uint64, returned as (high word, low word)."""
    return _mulhi64(a, b), a * b  # the low word wraps modulo 2**64, as it should


@numba.njit(inline="always", cache=True)
def _philox_round(c0, c1, c2, c3, k0, k1):
    """One Philox4x64 S-box round on counter words (c0..c3) with round key (k0, k1)."""
    hi0, lo0 = _mulhilo64(_MUL0, c0)
    hi1, lo1 = _mulhilo64(_MUL1, c2)
    return hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0


@numba.njit(cache=True)
def philox4x64(c0, c1, c2, c3, k0, k1):
    """Philox4x64-10 bijection of a 256-bit counter under a 128-bit key.

    Parameters
    ----------
    c0, c1, c2, c3 : int or np.uint64
        Counter words, least significant first (non-negative, below 2**64).
    k0, k1 : int or np.uint64
        Key words (non-negative, below 2**64).

    Returns
    -------
    tuple of 4 np.uint64
        The 256-bit output block, word 0 first. Equal to the block that
        ``numpy.random.Philox(key=[k0, k1])`` produces for the same counter.
    """
    x0 = np.uint64(c0)
    x1 = np.uint64(c1)
    x2 = np.uint64(c2)
    x3 = np.uint64(c3)
    key0 = np.uint64(k0)
    key1 = np.uint64(k1)
    x0, x1, x2, x3 = _philox_round(x0, x1, x2, x3, key0, key1)
    for _ in range(_N_ROUNDS - 1):
        key0 = key0 + _WEYL0
        key1 = key1 + _WEYL1
        x0, x1, x2, x3 = _philox_round(x0, x1, x2, x3, key0, key1)
    return x0, x1, x2, x3


@numba.njit(inline="always", cache=True)
def word4(w0, w1, w2, w3, j):
    """Word ``j & 3`` of a Philox block, chosen by two two-way selections, which compile to
    conditional moves: a four-way choice compiles to a jump table, an indirect jump whose
    target changes from one voxel to the next and is mispredicted."""
    odd = j & 1
    lo = w1 if odd else w0
    hi = w3 if odd else w2
    return hi if j & 2 else lo


@numba.njit(inline="always", cache=True)
def lane16(w0, w1, w2, w3, j):
    """The 16-bit lane ``j & 15`` of a Philox block (words w0..w3, four lanes each, lowest
    bits first), as int64: one block serves 16 decisions."""
    w = word4(w0, w1, w2, w3, j >> 2)
    return np.int64((w >> np.uint64(16 * (j & 3))) & _MASK16)


@numba.njit(inline="always", cache=True)
def _to_unit_float(word):
    """Map a uint64 to a float64 in [0, 1) using its top 53 bits."""
    return np.float64(word >> _SHIFT11) * _TWO_POW_MINUS_53


@numba.njit(cache=True)
def uniform_sub(seed, stream, index, step, sub):
    """Four independent uniforms for one voxel, step and sub-counter.

    Parameters
    ----------
    seed : int
        Run seed (non-negative); first key word.
    stream : int
        Stream of the drawing process (one of the ``STREAM_*`` constants); second key word.
    index : int
        Global voxel index (non-negative, may exceed 2**32).
    step : int
        Monte Carlo step number (non-negative).
    sub : int
        Sub-counter (non-negative) for kernels that need more than four numbers per voxel
        and step; ``sub = 0`` gives the same numbers as :func:`uniform4`.

    Returns
    -------
    tuple of 4 float64
        Values in [0, 1) with 53-bit resolution.
    """
    w0, w1, w2, w3 = philox4x64(index, step, sub, _ZERO, seed, stream)
    return _to_unit_float(w0), _to_unit_float(w1), _to_unit_float(w2), _to_unit_float(w3)


@numba.njit(cache=True)
def uniform4(seed, stream, index, step):
    """Four independent uniforms for one voxel and step.

    Key = (seed, stream), counter = (index, step, 0, 0).

    Parameters
    ----------
    seed : int
        Run seed (non-negative).
    stream : int
        Stream of the drawing process (one of the ``STREAM_*`` constants).
    index : int
        Global voxel index (non-negative, may exceed 2**32).
    step : int
        Monte Carlo step number (non-negative).

    Returns
    -------
    tuple of 4 float64
        Values in [0, 1) with 53-bit resolution.
    """
    return uniform_sub(seed, stream, index, step, _ZERO)


@numba.njit(cache=True)
def uniform(seed, stream, index, step):
    """The first of the four uniforms of :func:`uniform4`.

    Parameters
    ----------
    seed, stream, index, step : int
        As for :func:`uniform4`.

    Returns
    -------
    float64
        A value in [0, 1).
    """
    w0, _, _, _ = philox4x64(index, step, _ZERO, _ZERO, seed, stream)
    return _to_unit_float(w0)


@numba.njit(parallel=True, cache=True)
def _uniform_array_kernel(seed, stream, index, step):
    """Parallel loop behind :func:`uniform_array`."""
    out = np.empty(index.shape[0], dtype=np.float64)
    for i in numba.prange(index.shape[0]):
        out[i] = uniform(seed, stream, index[i], step)
    return out


def _check_non_negative(name, value):
    """Raise ValueError unless ``value`` is an integer in [0, 2**63)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} = {value!r}: must be a non-negative integer")
    if not 0 <= int(value) < 2**63:
        raise ValueError(f"{name} = {value!r}: must be in [0, 2**63)")


def uniform_array(seed, stream, index, step):
    """First uniform of every voxel in ``index``, computed in parallel.

    Element ``i`` equals ``uniform(seed, stream, index[i], step)``, so the result for a
    voxel does not depend on which other voxels are computed with it.

    Parameters
    ----------
    seed : int
        Run seed (non-negative).
    stream : int
        Stream of the drawing process (one of the ``STREAM_*`` constants).
    index : array_like of int
        1-D global voxel indices (non-negative).
    step : int
        Monte Carlo step number (non-negative).

    Returns
    -------
    numpy.ndarray of float64
        Values in [0, 1), same length as ``index``.
    """
    for name, value in (("seed", seed), ("stream", stream), ("step", step)):
        _check_non_negative(name, value)
    index_arr = np.ascontiguousarray(index, dtype=np.int64)
    if index_arr.ndim != 1:
        raise ValueError(f"index has shape {index_arr.shape}: must be 1-D")
    if index_arr.size and index_arr.min() < 0:
        raise ValueError("index: all voxel indices must be non-negative")
    return _uniform_array_kernel(np.int64(seed), np.int64(stream), index_arr, np.int64(step))
