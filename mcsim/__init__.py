"""mcsim: lattice Monte Carlo / cellular-automaton simulator of NCM622 calcination."""

import os as _os

__version__ = "0.1.0"

# Numba's parallel kernels run on OpenMP here, whose threads by default spin while they wait
# for the next parallel region. With another busy process on the same cores (a shared
# workstation, a second run, a test suite) a spinning thread holds the core that the thread
# it waits for needs, and a run on two threads took 35 times as long as on one (measured
# 2026-12-07; results identical either way). Waiting passively costs nothing measurable on
# idle cores (the default R-NCM run on 2 threads: 116.0 s with the runtime's own default,
# which spins a while before it sleeps, 113.6 s passive). The OpenMP runtime reads the
# variable when it is first loaded, at mcsim's first parallel kernel, so it is set here, only
# where the user has not set it: OMP_WAIT_POLICY=ACTIVE makes threads spin (docs/cluster.md).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
