#!/bin/bash
# Example SLURM batch job: one particle split over 4 MPI ranks (domain decomposition), 4 Numba
# threads each, checkpointing, and stopping cleanly before the time limit. Submit it again
# (or let it resubmit itself, below) and it continues from its checkpoint.
#SBATCH --job-name=mcsim-r-ncm
#SBATCH --nodes=1
#SBATCH --ntasks=4
#SBATCH --cpus-per-task=4
#SBATCH --time=04:00:00
#SBATCH --output=mcsim-%j.log
set -euo pipefail

# module load openmpi                  # site MPI (then build mpi4py against it, see README)
# source "$HOME/venvs/mcsim/bin/activate"

export NUMBA_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}   # threads per rank
CONFIG=runs/r-ncm.toml
OUT=r-ncm-2um.h5
CKPT=r-ncm-2um.ckpt

# Time left in this job (squeue prints MM:SS, HH:MM:SS or D-HH:MM:SS), so the run checkpoints
# and exits with status 75 before SLURM kills it.
WALLTIME=$(squeue -h -j "${SLURM_JOB_ID:-0}" -o %L 2>/dev/null || true)
case "$WALLTIME" in [0-9]*) ;; *) WALLTIME="04:00:00" ;; esac

status=0
if [ -d "$CKPT" ]; then
    mpirun -n "${SLURM_NTASKS:-1}" mcsim run --restart "$CKPT" -o "$OUT" \
        --walltime "$WALLTIME" || status=$?
else
    mcsim config check "$CONFIG" --set particle.radius_um=2.0
    mpirun -n "${SLURM_NTASKS:-1}" mcsim run "$CONFIG" -o "$OUT" --walltime "$WALLTIME" \
        --set particle.radius_um=2.0 --set output.checkpoint_interval_wall_s=1800 || status=$?
fi

if [ "$status" -eq 75 ]; then      # checkpointed before the limit: queue the continuation
    echo "mcsim checkpointed to $CKPT; resubmitting"
    sbatch --dependency=afterany:"${SLURM_JOB_ID}" "${SLURM_SUBMIT_DIR:-.}/runs/slurm-run.sh"
    exit 0
fi
exit "$status"
