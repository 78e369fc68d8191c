"""Slots of the fused reaction kernel: coefficients in, tallies and counts out."""

# Coefficient vector (float64), filled by the processes for each step.
C_P_REL_LIOH = 0     # probability-per-quantum that solid/molten LiOH releases Li in the step
C_P_REL_LI2O = 1     # the same for Li2O left by LiOH decomposition
C_P_REL_CO3 = 2      # the same for Li2CO3
C_P_LIOH_DECOMP = 3  # probability that a LiOH voxel turns to Li2O (+ H2O) in the step
C_KDT_LITH = 4       # k dt of topotactic lithiation (scaled by min(1, li/amount) per voxel)
C_KDT_DEHYD = 5      # k dt of dehydration
C_KDT_RS = 6         # k dt of rock-salt lithiation (scaled by min(1, li/amount))
C_DISORDER_NEW = 7   # Li/Ni disorder code (0..255) of layered oxide formed in the step
C_ANNEAL = 8         # fraction of disorder kept over the step (1: no annealing)
C_CONTACT_ONLY = 9   # 1: only source voxels touching the particle release (variant "contact")
N_COEF = 10

# Tallies (int64 quanta summed over the lattice).
T_LI_RELEASED = 0     # Li moved from source solid to the mobile field
T_LI_WATER = 1        # Li that left LiOH (decomposition or direct release): 1/2 H2O each
T_LI_CO2 = 2          # Li released from Li2CO3: 1/2 CO2 each
T_TM_LITHIATED = 3    # TM lithiated topotactically from hydroxide: 1 H2O each
T_TM_DEHYDRATED = 4   # TM dehydrated to rock salt: 1 H2O each
T_TM_RS_LITHIATED = 5  # TM lithiated from rock salt
T_LIOH_DECOMPOSED = 6  # Li in LiOH voxels that turned to Li2O
N_TALLY = 7
TALLY_NAMES = ("li_released", "li_water", "li_co2", "tm_lithiated", "tm_dehydrated",
               "tm_rs_lithiated", "lioh_decomposed")

# Counts of voxels after the step.
K_HYDROXIDE = 0
K_HYDROXIDE_SUPPLIED = 1  # hydroxide voxels holding mobile lithium
K_ROCKSALT = 2
K_ROCKSALT_PARTIAL = 3    # rock-salt voxels below full (can still ripen)
K_SOURCE = 4
K_LIOH = 5
K_LAYERED_OVERFULL = 6    # layered voxels holding more TM than fits (must spill)
K_SPENT = 7               # source voxels used up (retired to pore after the sweep)
N_COUNT = 8
COUNT_NAMES = ("hydroxide", "hydroxide_supplied", "rocksalt", "rocksalt_partial", "source",
               "lioh", "layered_overfull", "spent_source")
