"""The counter-based random numbers of :mod:`mcsim.rng` with whole-array NumPy: Philox4x64-10
word for word, the uniforms derived from it, and the stochastic rounding the kernels use.

For NumPy references of the kernels (:mod:`mcsim.reference`, the ``reference`` function of
each local reaction): they sit in the lattice layer, below the processes, so a process module
can use them without importing the reference step.
"""

from __future__ import annotations

import numpy as np

__all__ = ["philox4x64_numpy", "uniform4_numpy", "round_stochastic_numpy"]

# ---------------------------------------------------------------------------------------------
# Philox4x64-10
# ---------------------------------------------------------------------------------------------

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_MUL0 = 0xD2E7470EE14C6C93
_MUL1 = 0xCA5A826395121157
_WEYL0 = 0x9E3779B97F4A7C15
_WEYL1 = 0xBB67AE8584CAA73B
_M32 = _U64(0xFFFFFFFF)
_S32 = _U64(32)
_S11 = _U64(11)
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0


def _mulhilo_const(mul, b):
    """(high, low) 64-bit words of the 128-bit product of the constant ``mul`` and array ``b``.

    NumPy has no 128-bit integers either, so the product is assembled from the four 32x32-bit
    partial products (each exact in uint64), as in :func:`mcsim.rng._mulhilo64`.
    """
    a_lo = _U64(mul & 0xFFFFFFFF)
    a_hi = _U64(mul >> 32)
    b_lo = b & _M32
    b_hi = b >> _S32
    lo_lo = a_lo * b_lo
    lo_hi = a_lo * b_hi
    hi_lo = a_hi * b_lo
    middle = (lo_lo >> _S32) + (lo_hi & _M32) + (hi_lo & _M32)  # < 3 * 2**32: no overflow
    high = a_hi * b_hi + (lo_hi >> _S32) + (hi_lo >> _S32) + (middle >> _S32)
    low = _U64(mul) * b  # wraps modulo 2**64: the low word
    return high, low


def philox4x64_numpy(c0, c1, c2, c3, k0, k1):
    """Philox4x64-10 of counters (c0, c1, c2, c3) under keys (k0, k1), element-wise.

    Arguments are non-negative integers below 2**64 or arrays of them (broadcast together);
    returns four uint64 arrays, bit-identical to :func:`mcsim.rng.philox4x64` element by
    element. All additions and products wrap modulo 2**64, as in the Numba version.
    """
    words = [np.asarray(v, dtype=np.uint64) for v in (c0, c1, c2, c3, k0, k1)]
    shape = np.broadcast_shapes(*(w.shape for w in words))
    x0, x1, x2, x3 = (np.broadcast_to(w, shape) for w in words[:4])  # read-only views
    key0, key1 = words[4], words[5]  # broadcast by the XORs
    weyl0 = _U64(_WEYL0)
    weyl1 = _U64(_WEYL1)
    with np.errstate(over="ignore"):
        for r in range(10):
            if r:
                key0 = key0 + weyl0
                key1 = key1 + weyl1
            hi0, lo0 = _mulhilo_const(_MUL0, x0)
            hi1, lo1 = _mulhilo_const(_MUL1, x2)
            x0, x1, x2, x3 = hi1 ^ x1 ^ key0, lo1, hi0 ^ x3 ^ key1, lo0
    return x0, x1, x2, x3


def uniform4_numpy(seed, stream, index_array, step, block=1 << 18):
    """Four float64 uniform arrays in [0, 1), equal to ``mcsim.rng.uniform4(seed, stream, i,
    step)`` for every ``i`` of ``index_array`` (key (seed, stream), counter (i, step, 0, 0)).

    The work is done ``block`` indices at a time so that the Philox temporaries stay small
    (a few MB) however many indices are asked for; the result does not depend on ``block``.
    """
    idx = np.asarray(index_array, dtype=np.int64)
    shape = idx.shape
    flat = idx.reshape(-1).astype(np.uint64)
    out = [np.empty(flat.size, dtype=np.float64) for _ in range(4)]
    seed_u, stream_u, step_u = _U64(seed), _U64(stream), _U64(step)
    zero = _U64(0)
    for start in range(0, flat.size, block):
        stop = min(start + block, flat.size)
        words = philox4x64_numpy(flat[start:stop], step_u, zero, zero, seed_u, stream_u)
        for o, w in zip(out, words):
            o[start:stop] = (w >> _S11).astype(np.float64) * _TWO_POW_MINUS_53
    return tuple(o.reshape(shape) for o in out)


# ---------------------------------------------------------------------------------------------
# Reactions
# ---------------------------------------------------------------------------------------------


def round_stochastic_numpy(x, u):
    """floor(x) + (u < x - floor(x)) for x >= 0, as int64 (``_round_stochastic`` of the kernel)."""
    n = np.floor(x).astype(np.int64)
    return n + (u < x - n)
