#!/bin/bash
# Example SLURM batch job: a sweep (by default the hold sweep runs/sweep-hold.toml, 32 runs; or
# the sweep file given as the first argument: sbatch runs/slurm-sweep.sh SWEEP.toml) on 8 MPI
# ranks, each rank taking the next unfinished run (dynamic scheduling over an MPI counter on
# rank 0).
#SBATCH --job-name=mcsim-sweep-hold
#SBATCH --nodes=1
#SBATCH --ntasks=8
#SBATCH --cpus-per-task=4
#SBATCH --time=08:00:00
#SBATCH --output=mcsim-sweep-%j.log
# SIGTERM to every task 10 min before the time limit: the runs under way stop cleanly (their
# .partial files stay incomplete), no new run starts, index.h5 is written, and the job exits
# with status 3. Submit the same job again to resume: finished runs are skipped.
#SBATCH --signal=TERM@600
set -euo pipefail

# module load openmpi                  # site MPI (then build mpi4py against it, see README)
# source "$HOME/venvs/mcsim/bin/activate"

# Numba threads per rank follow the cores SLURM gave each task.
export NUMBA_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
SWEEP=${1:-runs/sweep-hold.toml}

mcsim sweep "$SWEEP" --dry-run
# With a site MPI that srun supports (PMI-2/PMIx):  srun mcsim sweep "$SWEEP"
mpirun -n "${SLURM_NTASKS:-1}" mcsim sweep "$SWEEP"
