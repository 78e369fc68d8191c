#!/bin/bash
# SLURM batch job for the 10 um particle of runs/ncm-10um.toml (1162^3 voxels): 256 MPI ranks
# on 4 nodes, one Numba thread each. The first job plans (memory and wall time per rank),
# generates the particle by blocks (each rank only its own) and runs; it writes a checkpoint
# every hour and, shortly before the time limit, checkpoints and exits with status 75. It then
# queues its own continuation, which restarts from the checkpoint (on any number of ranks).
#SBATCH --job-name=mcsim-10um
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=64
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=3G
#SBATCH --time=02:00:00
#SBATCH --output=mcsim-10um-%j.log
set -euo pipefail

# module load openmpi                  # site MPI (then build mpi4py against it: docs/cluster.md)
# source "$HOME/venvs/mcsim/bin/activate"

export NUMBA_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
CONFIG=runs/ncm-10um.toml
OUT=ncm-10um.h5
CKPT=ncm-10um.ckpt
RANKS=${SLURM_NTASKS:-256}
PER_NODE=${SLURM_NTASKS_PER_NODE:-64}

# Time left in this job (squeue prints MM:SS, HH:MM:SS or D-HH:MM:SS), so the run checkpoints
# and exits with status 75 before SLURM kills it.
WALLTIME=$(squeue -h -j "${SLURM_JOB_ID:-0}" -o %L 2>/dev/null || true)
case "$WALLTIME" in [0-9]*) ;; *) WALLTIME="02:00:00" ;; esac

status=0
if [ -d "$CKPT" ]; then
    mpirun -n "$RANKS" mcsim run --restart "$CKPT" -o "$OUT" --walltime "$WALLTIME" \
        || status=$?
else
    # refuses (exit 2, nothing written) if the ranks of one node would not fit its memory
    mcsim config check "$CONFIG" --ranks "$RANKS" --ranks-per-node "$PER_NODE" --time
    mpirun -n "$RANKS" mcsim run "$CONFIG" -o "$OUT" --walltime "$WALLTIME" || status=$?
fi

if [ "$status" -eq 75 ]; then      # checkpointed before the limit: queue the continuation
    echo "mcsim checkpointed to $CKPT; resubmitting"
    sbatch --dependency=afterany:"${SLURM_JOB_ID}" "${SLURM_SUBMIT_DIR:-.}/runs/slurm-10um.sh"
    exit 0
fi
exit "$status"
