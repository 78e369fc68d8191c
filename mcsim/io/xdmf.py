"""XDMF 3 sidecar that lets ParaView open the snapshots of a result file as a time series."""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np

# numpy dtype -> (XDMF NumberType, Precision)
_XDMF_TYPES = {
    np.dtype(np.uint8): ("UChar", "1"),
    np.dtype(np.int8): ("Char", "1"),
    np.dtype(np.uint16): ("UInt", "2"),
    np.dtype(np.int16): ("Int", "2"),
    np.dtype(np.uint32): ("UInt", "4"),
    np.dtype(np.int32): ("Int", "4"),
    np.dtype(np.uint64): ("UInt", "8"),
    np.dtype(np.int64): ("Int", "8"),
    np.dtype(np.float32): ("Float", "4"),
    np.dtype(np.float64): ("Float", "8"),
}
_NUMPY_TYPES = {value: key for key, value in _XDMF_TYPES.items()}


def _dims(shape) -> str:
    return " ".join(str(int(n)) for n in shape)


def _xml_item(parent, name: str, values) -> None:
    item = ET.SubElement(parent, "DataItem", Name=name, Dimensions=str(len(values)),
                         NumberType="Float", Precision="8", Format="XML")
    item.text = " ".join(repr(float(v)) for v in values)


def write_xdmf(h5_path, xmf_path=None) -> Path:
    """Write an XDMF 3 file describing every snapshot of a result file.

    The file is a temporal collection of uniform grids, one per ``/snapshots/NNNN`` group:
    ``3DCoRectMesh`` topology with ``grid_shape + 1`` points per axis, ``ORIGIN_DXDYDZ``
    geometry in nm (origin 0, spacing ``voxel_nm``; axes in array order, slowest first) and
    each snapshot field as a cell-centred scalar attribute read from the HDF5 file. The file
    is written to a temporary name and moved into place with :func:`os.replace`.

    Parameters
    ----------
    h5_path : str or os.PathLike
        Result file with root attributes ``grid_shape`` and ``voxel_nm``.
    xmf_path : str or os.PathLike, optional
        Output path; default ``h5_path`` with the suffix ``.xmf``. The HDF5 file is referred
        to relative to this file's directory (its basename when side by side).

    Returns
    -------
    pathlib.Path
        The XDMF file written.

    Examples
    --------
    >>> write_xdmf("run.h5")                                   # doctest: +SKIP
    PosixPath('run.xmf')
    """
    h5_path = Path(h5_path)
    xmf_path = h5_path.with_suffix(".xmf") if xmf_path is None else Path(xmf_path)
    h5_ref = os.path.relpath(h5_path.resolve(), xmf_path.resolve().parent)
    h5_ref = Path(h5_ref).as_posix()

    root = ET.Element("Xdmf", Version="3.0")
    domain = ET.SubElement(root, "Domain")
    series = ET.SubElement(domain, "Grid", Name="mcsim", GridType="Collection",
                           CollectionType="Temporal")
    with h5py.File(h5_path, "r") as f:
        shape = tuple(int(n) for n in f.attrs["grid_shape"])
        voxel_nm = float(f.attrs["voxel_nm"])
        snapshots = f.get("snapshots", {})
        for key in sorted(snapshots):
            group = snapshots[key]
            grid = ET.SubElement(series, "Grid", Name=f"snapshot_{key}", GridType="Uniform")
            ET.SubElement(grid, "Time", Value=repr(float(group.attrs["time_s"])))
            ET.SubElement(grid, "Topology", TopologyType="3DCoRectMesh",
                          Dimensions=_dims(n + 1 for n in shape))
            geometry = ET.SubElement(grid, "Geometry", GeometryType="ORIGIN_DXDYDZ")
            _xml_item(geometry, "Origin", (0.0, 0.0, 0.0))
            _xml_item(geometry, "Spacing", (voxel_nm,) * 3)
            for name in sorted(group):
                dset = group[name]
                number_type, precision = _XDMF_TYPES[dset.dtype]
                attribute = ET.SubElement(grid, "Attribute", Name=name,
                                          AttributeType="Scalar", Center="Cell")
                item = ET.SubElement(attribute, "DataItem", Dimensions=_dims(dset.shape),
                                     NumberType=number_type, Precision=precision,
                                     Format="HDF")
                item.text = f"{h5_ref}:{dset.name}"

    ET.indent(root)
    fd, tmp = tempfile.mkstemp(dir=xmf_path.parent, prefix=f".{xmf_path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
            out.write(b"\n")
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it owner-only; a sidecar is for sharing
        os.replace(tmp, xmf_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return xmf_path


def read_xdmf_references(xmf_path) -> list[tuple[Path, str, tuple[int, ...], np.dtype]]:
    """List the HDF5 datasets an XDMF file refers to.

    Parameters
    ----------
    xmf_path : str or os.PathLike
        XDMF file, e.g. one written by :func:`write_xdmf`.

    Returns
    -------
    list of tuple
        ``(h5_file, dataset_path, dimensions, dtype)`` for every ``Format="HDF"`` data item,
        in document order; ``h5_file`` is resolved against the XDMF file's directory.
    """
    xmf_path = Path(xmf_path)
    refs = []
    for item in ET.parse(xmf_path).getroot().iter("DataItem"):
        if item.get("Format") != "HDF":
            continue
        file_part, dataset = item.text.strip().rsplit(":", 1)
        dims = tuple(int(n) for n in item.get("Dimensions").split())
        dtype = _NUMPY_TYPES[(item.get("NumberType", "Float"), item.get("Precision", "4"))]
        refs.append((xmf_path.parent / file_part, dataset, dims, dtype))
    return refs
