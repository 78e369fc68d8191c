"""The block API: one rank's interior block of the voxel fields in a file of its own, and the
assembly of any box of the lattice from the stored blocks that overlap it (CRC-checked).

:func:`write_block` and :func:`read_region` take an explicit ``(offset, shape)``: a rank
writes its own block, and on restart every rank reads only the parts of the stored blocks
that overlap its new subdomain (any number of ranks, any split: no rank ever holds the whole
lattice). A lone run is the one-block case of the same code.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import h5py
import numpy as np

from mcsim.checkpoint.format import (BLOCK_RE, FIELDS, FORMAT, FORMAT_VERSION, CheckpointError,
                                     fsync_file)
from mcsim.io.safepath import UnsafePathError, inside

_SLAB_BYTES = 1 << 24  # write and checksum blocks in slabs of about 16 MiB


def _slabs(shape, itemsize: int):
    """(z0, z1) ranges of about :data:`_SLAB_BYTES` each covering ``shape[0]``."""
    plane = max(1, int(np.prod(shape[1:])) * itemsize)
    step = max(1, _SLAB_BYTES // plane)
    for z0 in range(0, shape[0], step):
        yield z0, min(shape[0], z0 + step)


def block_name(rank: int) -> str:
    """File name of rank ``rank``'s block inside a generation directory."""
    return f"block-{rank:05d}.h5"


def write_block(directory, rank: int, offset, shape, global_shape, fields: dict) -> dict:
    """Write one rank's interior block of the voxel fields and fsync it.

    Parameters
    ----------
    directory : str or os.PathLike
        The generation directory (must exist).
    rank : int
        Rank that owns the block (names the file, :func:`block_name`).
    offset, shape : tuple of int
        Global index of the block's first voxel and the block's shape (``state.offset``,
        ``state.shape``).
    global_shape : tuple of int
        Shape of the whole lattice.
    fields : dict of str to ndarray
        Arrays of shape ``shape`` (interior views such as ``state.interior(name)`` are fine),
        usually every name of :data:`~mcsim.checkpoint.FIELDS`.

    Returns
    -------
    dict
        The block's descriptor for ``meta.h5``: ``rank``, ``file``, ``offset``, ``shape`` and
        ``crc32`` (field name -> CRC-32 of its C-order bytes).
    """
    offset = tuple(int(o) for o in offset)
    shape = tuple(int(n) for n in shape)
    global_shape = tuple(int(n) for n in global_shape)
    if len(shape) != 3 or min(shape) < 1 or any(
            o < 0 or o + n > g for o, n, g in zip(offset, shape, global_shape)):
        raise ValueError(f"block offset {offset} + shape {shape} is not inside {global_shape}")
    path = Path(directory) / block_name(rank)
    crcs = {}
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["rank"] = int(rank)
        f.attrs["offset"] = np.asarray(offset, dtype=np.int64)
        f.attrs["shape"] = np.asarray(shape, dtype=np.int64)
        f.attrs["global_shape"] = np.asarray(global_shape, dtype=np.int64)
        for name, arr in fields.items():
            if tuple(arr.shape) != shape:
                raise ValueError(f"field {name!r} has shape {arr.shape}, block shape {shape}")
            dset = f.create_dataset(name, shape=shape, dtype=arr.dtype)
            crc = 0
            for z0, z1 in _slabs(shape, arr.dtype.itemsize):
                chunk = np.ascontiguousarray(arr[z0:z1])
                dset[z0:z1] = chunk
                crc = zlib.crc32(chunk, crc)
            dset.attrs["crc32"] = np.uint32(crc)
            crcs[name] = int(crc)
    fsync_file(path)
    return {"rank": int(rank), "file": path.name, "offset": offset, "shape": shape,
            "crc32": crcs}


def overlap(offset_a, shape_a, offset_b, shape_b):
    """(lo, hi) global bounds of the intersection of two boxes, or None if empty."""
    lo = tuple(max(a, b) for a, b in zip(offset_a, offset_b))
    hi = tuple(min(a + n, b + m) for a, n, b, m in zip(offset_a, shape_a, offset_b, shape_b))
    return None if any(h <= l for l, h in zip(lo, hi)) else (lo, hi)


def read_region(directory, blocks, offset, shape, names=FIELDS, out: dict | None = None) -> dict:
    """Assemble the box ``offset`` + ``shape`` of the global lattice from stored blocks.

    Only the blocks that overlap the box are opened, so a rank of a restart on any number of
    ranks reads just the blocks around its new subdomain. Every block opened is read whole,
    slab by slab, and checked against its CRC-32 before any of its data is used: a damaged
    block is refused on every rank that touches it, whatever part of it that rank needs.

    Parameters
    ----------
    directory : str or os.PathLike
        The generation directory holding the block files.
    blocks : list of dict
        Descriptors as returned by :func:`write_block` (:attr:`Checkpoint.blocks`).
    offset, shape : tuple of int
        The box to read, in global voxel indices.
    names : sequence of str
        Fields to read.
    out : dict of str to ndarray, optional
        Arrays of shape ``shape`` to fill in place (e.g. interior views of a new state);
        allocated when not given.

    Returns
    -------
    dict of str to ndarray
        One array per name, of shape ``shape``.

    Raises
    ------
    CheckpointError
        If a block file is missing, unreadable, does not match its descriptor, fails its
        checksum, or the blocks do not cover the box.
    """
    directory = Path(directory)
    offset = tuple(int(o) for o in offset)
    shape = tuple(int(n) for n in shape)
    out = {} if out is None else out
    covered = 0
    for blk in blocks:
        hit = overlap(offset, shape, blk["offset"], blk["shape"])
        if hit is None:
            continue
        lo, hi = hit
        covered += int(np.prod([h - l for l, h in zip(lo, hi)]))
        try:
            path = inside(directory, blk["file"], "meta.h5 blocks/file", pattern=BLOCK_RE)
        except UnsafePathError as err:
            raise CheckpointError(str(err)) from err
        try:
            with h5py.File(path, "r") as f:
                if (f.attrs.get("format") != FORMAT
                        or tuple(f.attrs["offset"]) != tuple(blk["offset"])
                        or tuple(f.attrs["shape"]) != tuple(blk["shape"])):
                    raise CheckpointError(f"{path}: block does not match the checkpoint's "
                                          "metadata (mixed generations?)")
                for name in names:
                    dset = f[name]
                    if tuple(dset.shape) != tuple(blk["shape"]):
                        raise CheckpointError(f"{path}: field {name!r} has shape {dset.shape}, "
                                              f"the block {tuple(blk['shape'])}")
                    if name not in out:
                        out[name] = np.empty(shape, dtype=dset.dtype)
                    elif out[name].dtype != dset.dtype:
                        raise CheckpointError(f"{path}: field {name!r} is {dset.dtype}, "
                                              f"expected {out[name].dtype}")
                    _read_checked(dset, blk, name, lo, hi, offset, out[name], path)
        except (OSError, KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{path}: cannot read the block ({err}); the checkpoint is "
                                  "incomplete or corrupt") from err
    if covered != int(np.prod(shape)):
        raise CheckpointError(f"{directory}: the stored blocks cover {covered} of the "
                              f"{int(np.prod(shape))} voxels of box {offset} + {shape}")
    return out


def _read_checked(dset, blk: dict, name: str, lo, hi, offset, target: np.ndarray,
                  path: Path) -> None:
    """Read field ``name`` of one block whole, slab by slab, copying the part inside the box
    ``lo``..``hi`` to ``target`` (whose first voxel is ``offset``), and check the whole
    block's CRC-32 against the one recorded in ``meta.h5``. On a mismatch ``target`` holds
    data that must not be used: the error is raised, and the restart is abandoned."""
    boff = tuple(blk["offset"])
    src = tuple(slice(l - o, h - o) for l, h, o in zip(lo, hi, boff))
    dst = tuple(slice(l - o, h - o) for l, h, o in zip(lo, hi, offset))
    crc = 0
    for z0, z1 in _slabs(dset.shape, dset.dtype.itemsize):
        chunk = dset[z0:z1]
        crc = zlib.crc32(chunk, crc)
        a, b = max(z0, src[0].start), min(z1, src[0].stop)
        if a < b:  # the slab's z range that lies in the box
            d0 = dst[0].start + a - src[0].start
            target[(slice(d0, d0 + b - a),) + dst[1:]] = chunk[a - z0:b - z0, src[1], src[2]]
    want = blk["crc32"].get(name)
    if want is None or crc != int(want):
        raise CheckpointError(f"{path}: field {name!r} fails its CRC-32 check (the file is "
                              "corrupt)")
