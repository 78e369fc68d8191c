"""Checkpoint and restart: the run state on disk, written atomically, read on any number of ranks.

What a checkpoint holds
-----------------------
Everything the run loop of :class:`mcsim.engine.Simulation` carries from one step to the
next, so that a restarted run takes exactly the steps an uninterrupted one takes and writes a
bit-identical result file:

* the voxel fields declared ``checkpointed`` in :data:`mcsim.state.FIELDS` (:data:`FIELDS`:
  ``phase``, ``grain``, ``amount``, ``li``, ``disorder``), interior only, one block per rank
  with its global ``offset`` and ``shape``;
* the clock (``time_s`` as the exact float64 the loop accumulated, ``step``) and the schedule
  position: the time of the next time-series row, the index of the next snapshot and of the
  next schedule breakpoint;
* the cumulative event tallies, the kernels' census (``state.census``: the counts that switch
  time-step limits off, e.g. hydroxide voxels still supplied with lithium; global, since the
  decomposed stepper reduces it over ranks), the :class:`~mcsim.diagnostics.Thermo` history
  (initial mass ``m0`` and the last row's time, weight and heat, from which the next DTG/DTA
  row is differenced), and the ``state_dict()`` of every process that has one;
* the random-number position. The generator is counter-based (:mod:`mcsim.rng`, Philox4x64-10
  keyed by ``(seed, stream)``, counter = (global voxel index, step, sub-counter)): it has no
  state besides ``seed`` and ``step``, so restoring ``step`` restores every stream;
* a copy of the result file written so far (``OUT.h5.partial``, flushed), see below;
* the configuration (TOML), the accumulated timings and wall time, and the restart count.

The face classes of the transport kernel (``state.codes``) and the change flags
(``state.dirty``) are derived data: a pure function of ``phase`` and ``grain``, recomputed in
full after a restart (``codes_ready = False``). The incremental refresh the uninterrupted run
uses gives the same classes (tested end to end: the restarted output is bit-identical).

Layout and atomicity
--------------------
A checkpoint is a directory (default ``OUT`` with suffix ``.ckpt``)::

    run.ckpt/LATEST                    one line: the name of the current generation
    run.ckpt/gen-000007/block-00000.h5 one file per rank: its interior block, offset, shape
    run.ckpt/gen-000007/result.h5.partial  copy of the result file written so far (rank 0)
    run.ckpt/gen-000007/meta.h5        everything else (rank 0), written last

Each checkpoint is a new generation directory. Every rank writes and fsyncs its block; rank 0
copies the result file, then writes ``meta.h5`` with the attribute ``complete = false``,
fills it, sets ``complete = true``, closes and fsyncs it and the directory, and only then
replaces ``LATEST`` (write ``LATEST.tmp``, fsync, ``os.replace``, fsync the directory) and
deletes the older generation. Until ``LATEST`` moves, the previous generation is the valid
checkpoint; a generation whose ``meta.h5`` is missing, unreadable or not ``complete`` is
never loaded, and every block and the result copy carry a CRC-32 that is checked on reading.

Why copy the result file: HDF5 without SWMR is not crash-consistent, so a run killed while
appending rows or writing a snapshot can leave ``OUT.h5.partial`` unreadable. The copy taken
right after a flush is readable by construction, and a restart never depends on a file
outside the checkpoint. It costs the result file's size per checkpoint (snapshots are
gzip-compressed; the copy is one sequential pass, CRC computed on the fly).

Decomposition
-------------
:func:`write_block` and :func:`read_region` take an explicit ``(offset, shape)``: a rank
writes its own block, and on restart every rank reads only the parts of the stored blocks
that overlap its new subdomain (any number of ranks, any split: no rank ever holds the
whole lattice). A lone run (``comm`` None) is the one-block case of the same code.

Modules
-------
``format``
    names, layout constants, :class:`CheckpointError`, CRC-32 and fsync helpers, the tree of
    plain data in ``meta.h5``, :func:`agree`;
``blocks``
    one rank's block on disk: :func:`write_block`, :func:`read_region`;
``writer``
    :func:`write_checkpoint` (one generation, from
    :meth:`mcsim.engine.Simulation.checkpoint_data`) and :func:`discard`;
``cadence``
    when to write and when to stop: :class:`Checkpointer`, signals, the wall-time limit;
``restore``
    :func:`open_checkpoint` and :class:`Checkpoint` (the configuration, each rank's state,
    the rest as plain data for :meth:`mcsim.engine.Simulation.restore_checkpoint_data`).

Everything public is importable from ``mcsim.checkpoint`` itself.
"""

from __future__ import annotations

import os  # noqa: F401  (tests patch ``mcsim.checkpoint.os.fsync`` / ``os.replace``)

from mcsim.checkpoint.blocks import block_name, read_region, write_block
from mcsim.checkpoint.cadence import (Checkpointer, CheckpointExit, StopFlag, checkpoint_dir,
                                      install_stop_signals, parse_walltime)
from mcsim.checkpoint.format import (EXIT_CHECKPOINTED, FIELDS, FORMAT, FORMAT_VERSION, LATEST,
                                     META, RESULT_COPY, RNG_NOTE, STOP_SIGNALS, WALLTIME_ENV,
                                     CheckpointError, agree)
from mcsim.checkpoint.restore import Checkpoint, open_checkpoint
from mcsim.checkpoint.writer import discard, drop_unfinished, write_checkpoint

__all__ = [
    "Checkpoint", "CheckpointError", "CheckpointExit", "Checkpointer", "StopFlag",
    "EXIT_CHECKPOINTED", "FIELDS", "FORMAT", "FORMAT_VERSION", "LATEST", "META",
    "RESULT_COPY", "RNG_NOTE", "STOP_SIGNALS", "WALLTIME_ENV",
    "agree", "block_name", "checkpoint_dir", "discard", "drop_unfinished", "install_stop_signals",
    "open_checkpoint", "parse_walltime", "read_region", "write_block", "write_checkpoint",
]
