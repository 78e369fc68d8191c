"""Pore and grain statistics of a lattice split over MPI ranks, without gathering it.

:func:`distributed_pore_statistics` and :func:`distributed_reference_central_void` give on
rank 0 exactly what :func:`~mcsim.pores.pore_statistics` and
:func:`~mcsim.pores.reference_central_void` give for the whole lattice -- the same dict, the
same float bits -- from the blocks of a :class:`mcsim.parallel.Decomposition` (any process
grid), no rank ever holding more than its block, one z-slab of the particle's box, halo
planes and the per-pore and per-grain tables.

How
---
1. *Slabs.* The particle's box (its bounding box plus one voxel, :mod:`mcsim.pores.geometry`)
   is cut into z-slabs by the rule of :func:`mcsim.parallel.split_extent`, slab ``r`` to rank
   ``r`` (with more ranks than planes the last ranks hold none). Each rank receives the
   ``phase``, ``grain`` and ``amount`` voxels of its slab from the ranks whose blocks hold
   them, point to point; voxels of the box outside the lattice are pores of grain 0, as the
   box pads them.
2. *Inside, shells, porosity.* The shell index, the outline and the reported phase (a used-up
   source is a pore) are per voxel; the tallies (voxels and pore voxels per shell, the voxel
   and amount sums of the porosity by mass) are int64 and summed over the ranks, exactly.
3. *Pores.* Each slab is labelled on its own (face connectivity). Its face census (surface
   faces, smallest and largest grain key across the faces, contact with the outside,
   :mod:`mcsim.pores.labelling`) includes the faces to the boundary planes of the
   neighbouring slabs, which are exchanged. Each local label gets a provisional number; the
   label pairs facing each other across a slab boundary are the edges of a graph whose
   connected components (found on rank 0) are the pores. A pore is numbered by its first
   voxel in the box's raster order -- the order in which ``scipy.ndimage.label`` numbers the
   pores of the whole box -- so the numbers are those of the serial analysis. The per-label
   records (voxel count, coordinate sums, first voxel and census, int64) go to rank 0, one
   row per local label, where they are added up per pore: counts and sums add, keys take
   their minimum and maximum, so the pore table is that of the serial analysis. Coordinate
   sums are exact integers (below 2^53) there too, hence the same centroids.
4. *Local thickness.* The squared distance of each pore voxel to the nearest non-pore voxel
   of the box is computed on the slab with halo planes of the pore mask fetched from the
   ranks that hold them, as deep as needed: a distance computed on a sub-range is never below
   the true one and equals it when it is within the halo; a larger one asks for a deeper
   halo (:func:`~mcsim.pores.thickness._pore_sq_distance`'s rule). The openings then need
   the distance map within the radius of the largest ball considered (the largest level
   whose ball fits anywhere in the particle): each rank fetches halo planes of the map that
   deep and computes the levels of its own planes. Distances and levels are integers from
   exact comparisons, so they equal the box's voxel by voxel; the voxels per thickness bin
   and the central void and wide-void voxels are summed over ranks.
5. *Grains.* Each rank counts the grain ids on the transition-metal voxels of its own block;
   the (id, count) pairs are added up on rank 0 in id order.
6. Rank 0 turns the tallies and records into the result with the serial analysis's own code
   (:func:`mcsim.pores.summary._assemble`): every float is computed from the same numbers,
   in the same order, as on one rank.

Cost and memory per rank
------------------------
Its slab of the box (phase 1 B, grain 4 B, amount 2 B per voxel, the amount only until its
sums are taken) and the serial analysis's per-voxel arrays on the slab (shell index, pore
labels, squared distance, level); while the distances and levels are computed, a copy of the
distance map with its halos (4 B per voxel of the slab and of halo planes as deep as the
largest ball's radius) and the scratch of one distance transform, about 25 B per voxel of
:data:`_PLANES` planes and their halos (at least 8 planes either side): a fixed amount per
plane of the box, whatever the number of ranks. Then one plane per neighbour of the boundary
fields, one row of 9 int64 per local label sent to rank 0, which also holds the per-pore and
per-grain tables; the grain census of the block (about 5 B per transition-metal voxel);
while the slabs are filled, the pieces of its block that a rank sends. Messages go point to
point in pieces of at most 1 GiB. Measured (peak resident memory over the held fields;
``synthetic_particle(256)``, box 243^3, ``outline="tags"`` with ``amount``): 258 MiB on one
rank; 137 MiB on each of 2 ranks; 99 MiB on each of 4 (about 60 MiB fixed, of it 47 MiB of
distance-transform scratch, plus 11 B per slab voxel); gathering to rank 0 instead cost that
rank 372 MiB.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mcsim import phases as ph
from mcsim.diagnostics import N_RADIAL_BINS, reported_phase
from mcsim.errors import ConfigError
from mcsim.parallel import split_extent
from mcsim.pores.classes import (INTRAGRANULAR, central_counts, central_fraction,
                                 pore_classes)
from mcsim.pores.geometry import (_OUTSIDE, _TM_LUT, _box_bounds, _check_geometry,
                                  _shell_counts, _shell_index)
from mcsim.pores.labelling import _census_pairs, face_census, label_pores
from mcsim.pores.summary import (N_SIZE_BINS, _assemble, _check_reference, _grain_census,
                                 _porosity_sums, _thickness_levels, _voxel_counts, _wide_void)
from mcsim.pores.thickness import _check_convention, _opening_levels, _sq_edt

#: Rank that receives the statistics.
ROOT = 0
#: z-planes per distance transform on a slab (bounds its scratch: about 25 B per voxel of
#: these planes and their halos; any value gives the same distances).
_PLANES = 16
#: Voxels per chunk of the per-label sums (bounds their scratch: about 50 B per pore voxel).
_RECORD_CHUNK = 1 << 19
#: Largest message, bytes (MPI counts are 32-bit integers).
_MAX_MESSAGE = 1 << 30
_INT64_MAX = np.iinfo(np.int64).max


# -- checks that every rank agrees on ------------------------------------------------------

def _agree(comm, error):
    """Raise the first rank's ConfigError on every rank if any rank had one (collective)."""
    info = None
    if error is not None:
        value = error.value
        if not isinstance(value, (str, int, float, bool, tuple, list, type(None))):
            value = repr(value)
        info = (error.key, value, error.allowed)
    infos = comm.allgather(info)
    first = next((i for i in infos if i is not None), None)
    if first is None:
        return
    if error is not None and info == first:
        raise error
    raise ConfigError(*first)


def _check_block(name, arr, shape):
    arr = np.asarray(arr)
    if arr.shape != tuple(shape) or arr.dtype.kind not in "ui":
        raise ConfigError(name, f"{arr.dtype} array of shape {arr.shape}",
                          f"must be an integer array of this rank's block shape "
                          f"{tuple(shape)}")
    return arr


def _checked(decomp, phase, grain, amount, center_vox, radius_vox, voxel_nm, *, outline,
             convention=None, n_size_bins=None, reference=None):
    """The inputs checked on every rank; one ConfigError on every rank if any is bad."""
    comm = decomp.cart
    error = out = None
    try:
        phase = _check_block("phase", phase, decomp.shape)
        grain = _check_block("grain", grain, decomp.shape)
        if amount is not None:
            amount = _check_block("amount", amount, decomp.shape)
        center, radius, voxel_nm = _check_geometry(center_vox, radius_vox, voxel_nm,
                                                   decomp.global_shape)
        if convention is not None:
            _check_convention(convention, "thickness_convention")
        reference = _check_reference(reference)
        if n_size_bins is not None and not (isinstance(n_size_bins, (int, np.integer))
                                            and 1 <= n_size_bins <= 1000):
            raise ConfigError("n_size_bins", n_size_bins, "must be an integer in [1, 1000]")
        if outline not in ("sphere", "tags"):
            raise ConfigError("outline", outline, 'must be "sphere" or "tags"')
        out = (phase, grain, amount, center, radius, voxel_nm, reference)
    except ConfigError as err:
        error = err
    _agree(comm, error)
    from mpi4py import MPI

    lo = comm.allreduce(int(phase.min()), op=MPI.MIN)
    hi = comm.allreduce(int(phase.max()), op=MPI.MAX)
    if lo < 0 or hi >= ph.N_PHASES:
        raise ConfigError("phase", f"values {lo}..{hi}",
                          f"phase codes must be in [0, {ph.N_PHASES - 1}]")
    return out


# -- the box in z-slabs --------------------------------------------------------------------

def _local(region, origin):
    """Slices of ``region`` ((lo, hi) per axis, global) in an array starting at ``origin``."""
    return tuple(slice(a - o, b - o) for (a, b), o in zip(region, origin))


def _intersect(r1, r2):
    out = tuple((max(a1, a2), min(b1, b2)) for (a1, b1), (a2, b2) in zip(r1, r2))
    return out if all(a < b for a, b in out) else None


def _pieces(region, itemsize):
    """``region`` cut along its first axis into pieces of at most :data:`_MAX_MESSAGE`."""
    (a, b), rest = region[0], region[1:]
    plane = itemsize * math.prod(hi - lo for lo, hi in rest)
    step = max(1, _MAX_MESSAGE // max(plane, 1))
    return [((z, min(z + step, b)), *rest) for z in range(a, b, step)]


class _Slabs:
    """This rank's z-slab of the particle's box, the moves of voxels between blocks and slabs,
    and the operations of local thickness on the slabs (the interface of
    :data:`mcsim.pores.thickness.LOCAL_OPS`)."""

    def __init__(self, decomp, center, radius):
        from mpi4py import MPI

        self._mpi = MPI
        self.comm = decomp.cart
        self.rank, self.size = decomp.rank, decomp.size
        self.blocks = decomp.blocks()
        self.origin, self.box = _box_bounds(center, radius)
        self.spans = [split_extent(self.box[0], self.size, r) for r in range(self.size)]
        start, n = self.spans[self.rank]
        self.z0, self.z1 = start, start + n
        self.shape = (n, self.box[1], self.box[2])
        nonempty = [r for r, (_, k) in enumerate(self.spans) if k > 0]
        self.planes = _PLANES  # z-planes per distance transform
        self.lower = self.rank - 1 if n and self.rank > 0 else MPI.PROC_NULL
        self.upper = self.rank + 1 if n and self.rank + 1 in nonempty else MPI.PROC_NULL

    @property
    def slab_origin(self):
        """Global index of the slab's first voxel."""
        return (self.origin[0] + self.z0, self.origin[1], self.origin[2])

    def _slab_region(self, r):
        start, n = self.spans[r]
        return ((self.origin[0] + start, self.origin[0] + start + n),
                (self.origin[1], self.origin[1] + self.box[1]),
                (self.origin[2], self.origin[2] + self.box[2]))

    def _block_region(self, r):
        off, shape = self.blocks[r]
        return tuple((o, o + n) for o, n in zip(off, shape))

    def _move(self, src, src_origin, sends, dst, dst_origin, recvs, tag):
        """Copy ``src``'s part of each region in ``sends`` ((rank, region)) to that rank and
        receive each region of ``recvs`` into ``dst`` (collective over the ranks named)."""
        reqs, pending = [], []
        for r, region in recvs:
            if r == self.rank:
                continue
            for piece in _pieces(region, dst.itemsize):
                buf = np.empty(tuple(b - a for a, b in piece), dtype=dst.dtype)
                reqs.append(self.comm.Irecv(buf, source=r, tag=tag))
                pending.append((piece, buf))
        for r, region in sends:
            if r == self.rank:
                dst[_local(region, dst_origin)] = src[_local(region, src_origin)]
                continue
            for piece in _pieces(region, src.itemsize):
                buf = np.ascontiguousarray(src[_local(piece, src_origin)])
                reqs.append(self.comm.Isend(buf, dest=r, tag=tag))
                pending.append((None, buf))
        self._mpi.Request.Waitall(reqs)
        for piece, buf in pending:
            if piece is not None:
                dst[_local(piece, dst_origin)] = buf

    def redistribute(self, block, tag):
        """This rank's slab of a field given as every rank's block (collective); voxels
        outside the lattice are 0."""
        out = np.zeros(self.shape, dtype=block.dtype)
        mine = self._slab_region(self.rank)
        sends, recvs = [], []
        for r in range(self.size):
            region = _intersect(self._block_region(self.rank), self._slab_region(r))
            if region is not None:
                sends.append((r, region))
            region = _intersect(self._block_region(r), mine)
            if region is not None:
                recvs.append((r, region))
        self._move(block, self.blocks[self.rank][0], sends, out, self.slab_origin, recvs, tag)
        return out

    def fetch(self, own, a, b, tag=41):
        """Box planes ``a:b`` (clipped to the box) of a slab-distributed array whose slab
        here is ``own``, from the ranks that hold them (collective; each rank asks for its
        own range). Returns the planes and the box index of the first."""
        a, b = max(a, 0), min(b, self.box[0])
        b = max(a, b)
        ranges = self.comm.allgather((a, b))
        rest = ((0, n) for n in own.shape[1:])
        rest = tuple(rest)
        out = np.empty((b - a, *own.shape[1:]), dtype=own.dtype)
        sends, recvs = [], []
        for r, (ra, rb) in enumerate(ranges):
            lo, hi = max(ra, self.z0), min(rb, self.z1)
            if lo < hi:
                sends.append((r, ((lo, hi), *rest)))
        for r, (start, n) in enumerate(self.spans):
            lo, hi = max(a, start), min(b, start + n)
            if lo < hi:
                recvs.append((r, ((lo, hi), *rest)))
        self._move(own, (self.z0, 0, 0), sends, out, (a, 0, 0), recvs, tag)
        return out, a

    def neighbour_planes(self, arr):
        """The box planes just below and just above this slab of a slab-distributed array
        (one-plane arrays from the neighbouring slabs; None at the box's ends)."""
        plane = arr.shape[1:]
        null = self._mpi.PROC_NULL
        below = np.empty((1, *plane), dtype=arr.dtype)
        above = np.empty((1, *plane), dtype=arr.dtype)
        first = np.ascontiguousarray(arr[:1]) if self.lower != null else np.empty_like(below)
        last = np.ascontiguousarray(arr[-1:]) if self.upper != null else np.empty_like(above)
        self.comm.Sendrecv(first, dest=self.lower, sendtag=43, recvbuf=above,
                           source=self.upper, recvtag=43)
        self.comm.Sendrecv(last, dest=self.upper, sendtag=44, recvbuf=below,
                           source=self.lower, recvtag=44)
        return (below if self.lower != null else None), (above if self.upper != null else None)

    # -- local thickness (the interface of mcsim.pores.thickness.LOCAL_OPS) ----------------
    def sq_distance(self, pore):
        """Squared distance of each pore voxel of the slab to the nearest non-pore voxel of
        the box (the box's :func:`~mcsim.pores.thickness._pore_sq_distance`, voxel for
        voxel), with halos of the pore mask as deep as the distances need (collective)."""
        MPI = self._mpi
        if self.comm.allreduce(bool(pore.all()), op=MPI.LAND):
            raise ValueError("local thickness needs at least one non-pore voxel")
        nz, lo, hi = self.box[0], self.z0, self.z1
        d2 = np.empty(pore.shape, dtype=np.int32)
        todo = [(z, 8) for z in range(lo, hi, self.planes)]
        reach = 8
        while True:
            ext, a0 = self.fetch(pore, lo - reach, hi + reach) if todo else self.fetch(pore, 0, 0)
            b0 = a0 + ext.shape[0]
            later = []
            for z0, h in todo:
                z1 = min(z0 + self.planes, hi)
                while True:
                    a, b = max(0, z0 - h), min(nz, z1 + h)
                    if a < a0 or b > b0:  # the halo here is too thin: fetch a deeper one
                        later.append((z0, h))
                        break
                    region = ext[a - a0:b - a0]
                    if region.all():
                        h *= 2
                        continue
                    d = _sq_edt(region)[z0 - a:z1 - a]
                    worst = int(d.max())
                    if (a == 0 and b == nz) or worst <= h * h:
                        d2[z0 - lo:z1 - lo] = d
                        break
                    h = math.isqrt(worst - 1) + 1
            del ext
            todo = later
            if not self.comm.allreduce(len(todo), op=MPI.SUM):
                return d2
            reach = max((h for _, h in todo), default=0)

    def max(self, d2) -> int:
        """The largest squared distance of the box (collective)."""
        return self.comm.allreduce(int(d2.max()) if d2.size else 0, op=self._mpi.MAX)

    def levels(self, pore, d2, seed_min, cover_max):
        """The box's :func:`~mcsim.pores.thickness._opening_levels` on this slab: halo planes
        of the distance map as deep as the radius of the largest ball that fits anywhere
        (collective)."""
        n = len(seed_min)
        if n > 65535:
            raise ValueError("at most 65535 local-thickness levels")
        d2max = self.max(d2)
        last = 0
        for k in range(1, n):
            if int(seed_min[k]) > d2max:
                break
            last = k
        if last == 0 or not pore.shape[0]:
            if last:
                self.fetch(d2, 0, 0)
            return np.zeros(pore.shape, dtype=np.uint8 if n <= 256 else np.uint16)
        h = math.isqrt(int(cover_max[last]))
        ext, a = self.fetch(d2, self.z0 - h, self.z1 + h)
        return _opening_levels(ext, ext, seed_min, cover_max, slab=self.planes,
                               planes=(self.z0 - a, self.z1 - a))


# -- pores on the slabs --------------------------------------------------------------------

def _label_records(labels, n, z_box):
    """int64 rows per local label 1..n: voxel count, summed box coordinates (z, y, x) and the
    first voxel's index in the box's raster order (the slab's first plane is box plane
    ``z_box``)."""
    nz, ny, nx = labels.shape
    count = np.zeros(n + 1, dtype=np.int64)
    sums = np.zeros((n + 1, 3), dtype=np.int64)
    first = np.full(n + 1, _INT64_MAX, dtype=np.int64)
    step = max(1, _RECORD_CHUNK // max(ny * nx, 1))
    for z0 in range(0, nz, step):
        chunk = labels[z0:z0 + step]
        idx = np.flatnonzero(chunk)
        lab = chunk.ravel()[idx]
        count += np.bincount(lab, minlength=n + 1)
        for a, coord in enumerate(np.unravel_index(idx, chunk.shape)):
            w = coord.astype(np.float64) + (z0 + z_box if a == 0 else 0)
            # float64 sums of at most 2^19 coordinates: exact integers
            sums[:, a] += np.rint(np.bincount(lab, weights=w, minlength=n + 1)).astype(np.int64)
        np.minimum.at(first, lab, idx.astype(np.int64) + (z0 + z_box) * ny * nx)
    return count[1:], sums[1:], first[1:]


def _gather_rows(comm, rows):
    """Every rank's int64 rows (2-D, same width) stacked in rank order on :data:`ROOT`
    (None elsewhere)."""
    from mpi4py import MPI

    rows = np.ascontiguousarray(rows, dtype=np.int64)
    counts = comm.gather(rows.size, root=ROOT)
    out = None
    if comm.Get_rank() == ROOT:
        out = np.empty(sum(counts), dtype=np.int64)
        displ = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        comm.Gatherv(rows, [out, (counts, displ), MPI.INT64_T], root=ROOT)
        out = out.reshape(-1, rows.shape[1])
    else:
        comm.Gatherv(rows, None, root=ROOT)
    return out


def _scatter_flags(comm, values, counts):
    """Rank r's ``counts[r]`` entries of the uint8 ``values`` (on :data:`ROOT`, in rank
    order)."""
    from mpi4py import MPI

    me = comm.Get_rank()
    out = np.empty(counts[me], dtype=np.uint8)
    if me == ROOT:
        displ = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        comm.Scatterv([np.ascontiguousarray(values, dtype=np.uint8), (counts, displ),
                       MPI.UNSIGNED_CHAR], out, root=ROOT)
    else:
        comm.Scatterv(None, out, root=ROOT)
    return out


def _slab_rows(labels, n, p, g, shell, below, above, z_box):
    """The int64 record of each local label 1..n of a slab (one row each: voxel count, summed
    box coordinates z, y, x, first voxel in the box's raster order, surface faces, smallest
    and largest grain key, open flag), its faces to the neighbouring slabs' boundary planes
    included. ``below`` and ``above``: (phase, grain, shell) of the box plane just below and
    just above the slab (one-plane arrays), or None at the box's ends; ``z_box``: the box
    plane of the slab's first plane."""
    outside_pore = (p == ph.PORE) & (shell == _OUTSIDE)
    faces, kmin, kmax, is_open = face_census(labels, n, p, g, outside_pore)
    del outside_pore
    for mine, other in ((labels[:1], below), (labels[-1:], above)):
        if other is not None:
            po, go, so = other
            _census_pairs(mine, po, go, (po == ph.PORE) & (so == _OUTSIDE),
                          faces, kmin, kmax, is_open)
    volume, sums, first = _label_records(labels, n, z_box)
    return np.column_stack([volume, sums, first, faces[1:], kmin[1:], kmax[1:],
                            is_open[1:].astype(np.int64)]).reshape(n, 9)


def _boundary_edges(first_plane, below_labels, base, base_below):
    """Unique pairs (provisional number here, provisional number below) of the labels that
    face each other across a slab's lower boundary: ``first_plane`` holds the slab's labels
    on its first plane, ``below_labels`` the labels of the slab below on its last plane;
    local label ``l`` is number ``base + l - 1`` (``base_below + l - 1`` below)."""
    m = (first_plane > 0) & (below_labels > 0)
    pairs = np.stack([first_plane[m].astype(np.int64) + (base - 1),
                      below_labels[m].astype(np.int64) + (base_below - 1)], axis=1)
    return np.unique(pairs, axis=0) if pairs.size else np.zeros((0, 2), dtype=np.int64)


def _pores(slabs, p, g, shell):
    """Label the pores of the slabs as those of the whole box (collective).

    Returns this slab's labels (local), the void flag per local label (True for an
    intergranular or open pore), and on :data:`ROOT` the pore table of
    :func:`~mcsim.pores.classes.find_pores` (None elsewhere)."""
    comm = slabs.comm
    labels, n, _ = label_pores(p, shell)
    planes = [slabs.neighbour_planes(a) for a in (p, g, shell)]
    below = None if planes[0][0] is None else tuple(b for b, _ in planes)
    above = None if planes[0][1] is None else tuple(a for _, a in planes)
    del planes
    rows = _slab_rows(labels, n, p, g, shell, below, above, slabs.z0)
    del below, above
    # provisional numbers: rank by rank, in local label order
    counts = comm.allgather(n)
    lab_below, _ = slabs.neighbour_planes(labels)
    edges = np.zeros((0, 2), dtype=np.int64)
    if lab_below is not None:
        r = slabs.rank
        edges = _boundary_edges(labels[0], lab_below[0], sum(counts[:r]), sum(counts[:r - 1]))
    del lab_below
    rows = _gather_rows(comm, rows)
    edges = _gather_rows(comm, edges)
    table = void_prov = None
    if comm.Get_rank() == ROOT:
        table, void_prov = _merge(rows, edges, slabs.origin)
    void = _scatter_flags(comm, void_prov, counts).astype(bool)
    return labels, void, table


def _merge(rows, edges, origin):
    """The pore table of :func:`~mcsim.pores.classes.find_pores` from the rows of
    :func:`_slab_rows` of every slab (in provisional-number order) and the edges of
    :func:`_boundary_edges`; with the void flag (uint8) of each provisional number."""
    total = rows.shape[0]
    if total and edges.size:
        graph = coo_matrix((np.ones(edges.shape[0], dtype=np.int8), (edges[:, 0], edges[:, 1])),
                           shape=(total, total))
        n, comp = connected_components(graph, directed=False)
    else:
        n, comp = total, np.arange(total)
    key = np.full(n, _INT64_MAX, dtype=np.int64)
    np.minimum.at(key, comp, rows[:, 4])
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(key)] = np.arange(n)  # pores by their first voxel, as ndimage numbers them
    final = rank[comp]
    volume = np.zeros(n, dtype=np.int64)
    np.add.at(volume, final, rows[:, 0])
    sums = np.zeros((n, 3), dtype=np.int64)
    for a in range(3):
        np.add.at(sums[:, a], final, rows[:, 1 + a])
    faces = np.zeros(n + 1, dtype=np.int64)
    np.add.at(faces, final + 1, rows[:, 5])
    kmin = np.full(n + 1, _INT64_MAX, dtype=np.int64)
    np.minimum.at(kmin, final + 1, rows[:, 6])
    kmax = np.full(n + 1, -1, dtype=np.int64)
    np.maximum.at(kmax, final + 1, rows[:, 7])
    is_open = np.zeros(n + 1, dtype=bool)
    is_open[final[rows[:, 8] > 0] + 1] = True
    cls = pore_classes(kmin, kmax, is_open)
    centroid = (sums.astype(np.float64) / np.maximum(volume, 1)[:, None]
                + np.asarray(origin, dtype=np.float64))
    table = {
        "volume_voxels": volume,
        "surface_faces": faces[1:],
        "centroid_vox": centroid,
        "pore_class": cls[1:],
        "grain_id": np.where(cls[1:] == INTRAGRANULAR, kmin[1:], 0),
    }
    void_prov = (cls[1:] != INTRAGRANULAR)[final].astype(np.uint8)
    return table, void_prov


def _slab_fields(decomp, slabs, phase, grain, amount, center, radius, outline, sums=True):
    """Reported phase, grain, shell index (and, with ``sums``, the porosity-by-mass sums,
    int64, reduced; None without ``amount``) of this rank's slab (collective)."""
    p = slabs.redistribute(phase, tag=51)
    g = slabs.redistribute(grain, tag=52)
    if amount is not None:
        a = slabs.redistribute(amount, tag=53)
        p = reported_phase(p, a)
    shell = _shell_index(p.shape, slabs.slab_origin, center, radius)
    if outline == "tags":
        shell[(g == 0) & ~_TM_LUT[p]] = _OUTSIDE  # the outside world inside the sphere
    out = None
    if amount is not None:
        if sums:
            out = decomp.allreduce_int(_porosity_sums(p, a, shell))
        del a
    return p, g, shell, out


def _grains(comm, phase, grain):
    """The grain census of the whole lattice on :data:`ROOT` (ids increasing, int64 counts;
    None elsewhere)."""
    gid, vol = _grain_census(phase, grain)
    rows = _gather_rows(comm, np.column_stack([gid, vol]) if gid.size
                        else np.zeros((0, 2), dtype=np.int64))
    if rows is None:
        return None, None
    ids, inverse = np.unique(rows[:, 0], return_inverse=True)
    counts = np.zeros(ids.size, dtype=np.int64)
    np.add.at(counts, inverse.ravel(), rows[:, 1])
    return ids.astype(np.int64), counts


def distributed_pore_statistics(decomp, phase, grain, center_vox, radius_vox, voxel_nm, *,
                                n_size_bins=N_SIZE_BINS, outline="sphere", amount=None,
                                thickness_convention="mcsim", central_void_reference=None):
    """:func:`~mcsim.pores.pore_statistics` of a lattice split over MPI ranks (collective).

    Parameters
    ----------
    decomp : mcsim.parallel.Decomposition
        The ranks and their blocks (any process grid).
    phase, grain : numpy.ndarray
        This rank's block of the phase codes and grain ids (interior, no halo, shape
        ``decomp.shape``).
    center_vox, radius_vox, voxel_nm
        As for :func:`~mcsim.pores.pore_statistics`, in global voxel indices; the sphere must
        lie inside the global lattice.
    n_size_bins, outline, thickness_convention, central_void_reference
        As for :func:`~mcsim.pores.pore_statistics` (the reference is used on rank 0).
    amount : numpy.ndarray, optional
        This rank's block of the ``amount`` field.

    Returns
    -------
    dict or None
        On rank 0 the dict :func:`~mcsim.pores.pore_statistics` returns for the whole
        lattice, equal entry for entry and bit for bit; None on the other ranks.

    Raises
    ------
    ConfigError
        As :func:`~mcsim.pores.pore_statistics` (on every rank: a bad block on one rank is
        reported by all), or a block whose shape is not ``decomp.shape``.
    """
    comm = decomp.cart
    phase, grain, amount, center, radius, voxel_nm, reference = _checked(
        decomp, phase, grain, amount, center_vox, radius_vox, voxel_nm, outline=outline,
        convention=thickness_convention, n_size_bins=n_size_bins,
        reference=central_void_reference)
    gid, gvol = _grains(comm, phase, grain)
    slabs = _Slabs(decomp, center, radius)
    p, g, shell, sums = _slab_fields(decomp, slabs, phase, grain, amount, center, radius,
                                     outline)
    shell_pores, shell_total = (decomp.allreduce_int(c)
                                for c in _shell_counts(p == ph.PORE, shell))
    labels, void, table = _pores(slabs, p, g, shell)
    del p, g
    grid, lt, wide = _thickness_levels(slabs, labels > 0, radius, voxel_nm,
                                       thickness_convention, slabs.box)
    lt_counts, n_void, n_wide = _voxel_counts(labels, void, lt, wide, shell, len(grid) - 1)
    del labels, lt, wide, shell
    lt_counts = decomp.allreduce_int(lt_counts)
    n_void, n_wide = (int(v) for v in decomp.allreduce_int([n_void, n_wide]))
    if comm.Get_rank() != ROOT:
        return None
    return _assemble(
        center=center, radius=radius, voxel_nm=voxel_nm, n_size_bins=n_size_bins,
        reference=reference, sums=sums, shell_pores=shell_pores, shell_total=shell_total,
        table=table, grid=grid, lt_counts=lt_counts, central_void=n_void, central_wide=n_wide,
        grain_ids=gid, grain_volumes=gvol)


def distributed_reference_central_void(decomp, phase, grain, center_vox, radius_vox,
                                       voxel_nm, *, outline="sphere", amount=None) -> float:
    """:func:`~mcsim.pores.reference_central_void` of a lattice split over MPI ranks
    (collective; arguments as for :func:`distributed_pore_statistics`). The value on rank 0,
    bit for bit that of the whole lattice; NaN on the other ranks."""
    comm = decomp.cart
    phase, grain, amount, center, radius, voxel_nm, _ = _checked(
        decomp, phase, grain, amount, center_vox, radius_vox, voxel_nm, outline=outline)
    slabs = _Slabs(decomp, center, radius)
    p, g, shell, _ = _slab_fields(decomp, slabs, phase, grain, amount, center, radius,
                                  outline, sums=False)
    shell_voxels = decomp.allreduce_int(
        np.bincount(shell.ravel(), minlength=256)[:N_RADIAL_BINS])
    labels, void, _ = _pores(slabs, p, g, shell)
    del p, g
    wide = _wide_void(slabs, labels > 0, voxel_nm, slabs.box)
    n_wide = int(decomp.allreduce_int([central_counts(shell, labels, void, wide)[1]])[0])
    if comm.Get_rank() != ROOT:
        return math.nan
    return central_fraction(n_wide, shell_voxels)


def statistics_differences(a, b, path=""):
    """Every entry in which two statistics dicts (or values) differ, as (path, ...) tuples:
    keys, types, array dtype, shape or bytes, float bits (NaN equals NaN only with the same
    bits). Empty when ``a`` and ``b`` are the same, bit for bit: the contract of
    :func:`distributed_pore_statistics` with :func:`~mcsim.pores.pore_statistics`."""
    if isinstance(a, dict):
        if not isinstance(b, dict) or sorted(a) != sorted(b):
            return [(path, "keys")]
        return [d for k in a for d in statistics_differences(a[k], b[k], f"{path}/{k}")]
    if type(a) is not type(b):
        return [(path, "type", type(a).__name__, type(b).__name__)]
    if isinstance(a, np.ndarray):
        same = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        return [] if same else [(path, "array")]
    if isinstance(a, float):
        return [] if np.float64(a).tobytes() == np.float64(b).tobytes() else [(path, a, b)]
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return [(path, "length")]
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in statistics_differences(x, y, f"{path}/{i}")]
    return [] if a == b else [(path, a, b)]
