#!/bin/bash
# Example SLURM batch job: one mcsim run on one node's cores.
#SBATCH --job-name=mcsim-r-ncm
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=16
#SBATCH --time=04:00:00
#SBATCH --output=mcsim-%j.log
set -euo pipefail
# Numba threads follow the cores SLURM gave the task.
export NUMBA_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
mcsim config check runs/r-ncm.toml
mcsim run runs/r-ncm.toml -o "r-ncm-${SLURM_JOB_ID:-local}.h5" \
    --set particle.radius_um=2.0
