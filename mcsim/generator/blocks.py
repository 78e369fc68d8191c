"""Generating the particle by blocks: the block of the grid a caller builds, the sums over
all blocks that the global steps need, and an exact distributed selection of the k smallest
keys.

Every step of :func:`mcsim.generator.generate_agglomerate` is a function of a voxel's global
index and of a few global numbers: the seeds, their frames and sizes, the source particles'
centres (cheap, computed by every block), and sums over all voxels (counts, histograms,
per-grain moments). A block therefore needs no halo and no other block's voxels: it asks
for the sums through a ``reduce`` callable, which adds an int64 array over every block of
the grid and returns the total (the same array on every block). One block holding the whole
grid with the identity as ``reduce`` is the serial generator; under MPI ``reduce`` is an
``Allreduce`` (:func:`comm_reduce`). Sums of integers are exact in any order, so the
particle is bit-identical for any split of the grid.

Steps that pick "the k smallest" of a global ranking (the pore voxels by boundary gap, the
trimmed voxels of the last source particle by distance, a uniform source layer by radius)
use :func:`radix_select`: histograms of 16-bit digits of the keys, summed over the blocks,
locate the k-th smallest key digit by digit (a few collective sums of 65 536 counts,
instead of a sort of all voxels); voxels whose key equals the threshold are taken in
order of their global flat index, found the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Bits of one radix digit of :func:`radix_select` (65 536 bins).
DIGIT_BITS = 16
_DIGIT_MASK = (1 << DIGIT_BITS) - 1


@dataclass(frozen=True)
class Block:
    """The part ``offset`` + ``shape`` of the cubic grid of edge ``n`` that one caller builds.

    Attributes
    ----------
    n : int
        Edge of the whole grid, voxels.
    offset, shape : tuple of int
        Global (z, y, x) index of the block's first voxel and its extent.
    """

    n: int
    offset: tuple
    shape: tuple

    @classmethod
    def whole(cls, n: int) -> "Block":
        """The block that is the whole grid."""
        return cls(int(n), (0, 0, 0), (int(n),) * 3)

    @classmethod
    def checked(cls, n: int, offset, shape) -> "Block":
        """A block inside the grid (ValueError otherwise)."""
        offset = tuple(int(o) for o in offset)
        shape = tuple(int(s) for s in shape)
        if len(offset) != 3 or len(shape) != 3 or any(
                o < 0 or s < 1 or o + s > n for o, s in zip(offset, shape)):
            raise ValueError(f"block offset {offset} shape {shape} is not inside the "
                             f"{n}^3 grid")
        return cls(int(n), offset, shape)

    @property
    def is_whole(self) -> bool:
        return self.offset == (0, 0, 0) and self.shape == (self.n,) * 3

    @property
    def voxels(self) -> int:
        return int(np.prod(self.shape))


def serial_reduce(values) -> np.ndarray:
    """The ``reduce`` of a single block holding the whole grid: a copy as int64."""
    return np.array(values, dtype=np.int64)


def comm_reduce(comm):
    """The ``reduce`` of the blocks of the ranks of an mpi4py communicator: an exact int64
    ``Allreduce`` (collective: every rank calls it in the same order)."""
    from mcsim.parallel import allreduce_int

    def reduce(values):
        return allreduce_int(comm, values)

    return reduce


def radix_select(hist, nbits: int, k: int, reduce) -> tuple[int, int]:
    """The k-th smallest of the non-negative integer keys of all blocks.

    Parameters
    ----------
    hist : callable
        ``hist(shift, prefix)`` -> int64[65536]: this block's count of each digit
        ``(key >> shift) & 0xFFFF`` over its keys with ``key >> (shift + 16) == prefix``
        (all its keys when ``prefix`` is None).
    nbits : int
        Every key is below ``2**nbits`` (at most 63).
    k : int
        1 <= k <= number of keys over all blocks.
    reduce : callable
        Sum of an int64 array over all blocks.

    Returns
    -------
    (t, less)
        The k-th smallest key ``t`` and the number of keys below it: every key < t and
        ``k - less`` of the keys equal to t are the k smallest.
    """
    top = max(0, (int(nbits) - 1) // DIGIT_BITS * DIGIT_BITS)
    prefix, less = 0, 0
    for shift in range(top, -1, -DIGIT_BITS):
        counts = reduce(hist(shift, None if shift == top else prefix))
        cum = np.cumsum(counts)
        need = k - less
        if need < 1 or need > cum[-1]:
            raise ValueError(f"radix_select: k={k} outside the {less + int(cum[-1])} keys")
        digit = int(np.searchsorted(cum, need))  # first digit whose cumulative count >= need
        less += int(cum[digit] - counts[digit])
        prefix = (prefix << DIGIT_BITS) | digit
    return prefix, less


def array_hist(keys: np.ndarray):
    """The ``hist`` of :func:`radix_select` over an int64 array of keys (small arrays)."""
    keys = np.asarray(keys, dtype=np.int64)

    def hist(shift, prefix):
        sel = keys if prefix is None else keys[(keys >> (shift + DIGIT_BITS)) == prefix]
        return np.bincount((sel >> shift) & _DIGIT_MASK, minlength=_DIGIT_MASK + 1)

    return hist


def float_keys(values: np.ndarray) -> np.ndarray:
    """Order-preserving int64 keys of non-negative float64 values (their bit patterns)."""
    v = np.asarray(values, dtype=np.float64) + 0.0  # -0.0 -> +0.0
    if np.any(v < 0) or np.any(np.isnan(v)):
        raise ValueError("float_keys: values must be >= 0")
    return v.view(np.int64)


def flat_bits(n: int) -> int:
    """Bits of a global flat voxel index ``(z * n + y) * n + x`` of an ``n``^3 grid."""
    return max(1, int(n) ** 3 - 1).bit_length()


def select_smallest(keys: np.ndarray, flats: np.ndarray, k: int, n: int, reduce):
    """This block's share of the k smallest (key, global flat index) pairs of all blocks.

    ``keys`` are non-negative int64 (below 2**63), ``flats`` the global flat indices of the
    same voxels (unique over all blocks); returns a bool mask over them. Collective.
    """
    keys = np.asarray(keys, dtype=np.int64)
    flats = np.asarray(flats, dtype=np.int64)
    total = int(reduce([keys.size])[0])
    if k >= total:
        return np.ones(keys.size, bool)
    if k <= 0:
        return np.zeros(keys.size, bool)
    t, less = radix_select(array_hist(keys), 63, k, reduce)
    return _take_ties(keys < t, keys == t, flats, k - less, n, reduce)


def tie_cut(tied_flats: np.ndarray, need: int, n: int, reduce) -> int:
    """The largest global flat index among the ``need`` smallest of the tied voxels'
    indices ``tied_flats`` of all blocks (every one of them when ``need`` covers them all:
    then the largest possible index).  Collective."""
    tied_flats = np.asarray(tied_flats, dtype=np.int64)
    n_tied = int(reduce([tied_flats.size])[0])
    if need >= n_tied:
        return np.iinfo(np.int64).max
    cut, _ = radix_select(array_hist(tied_flats), flat_bits(n), need, reduce)
    return cut


def _take_ties(below, tied, flats, need, n, reduce):
    """``below`` plus the ``need`` voxels of ``tied`` with the smallest global flat index."""
    cut = tie_cut(flats[tied], need, n, reduce)
    return below | (tied & (flats <= cut))
