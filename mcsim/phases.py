"""Phase codes stored in the uint8 ``phase`` field, and per-phase material constants."""

PORE = 0
LIOH = 1
LI2O = 2
LI2CO3 = 3
HYDROXIDE = 4  # TM(OH)2, P-3m1
ROCKSALT = 5   # TMO, Fm-3m
LAYERED = 6    # LiTMO2, R-3m

NAMES = ("pore", "lioh", "li2o", "li2co3", "hydroxide", "rocksalt", "layered")
N_PHASES = len(NAMES)

#: Molar volume per formula unit, cm^3/mol (docs/model.md). For the transition-metal
#: phases this is per transition metal.
MOLAR_VOLUME_CM3 = {
    LIOH: 16.4,
    LI2O: 14.8,
    LI2CO3: 35.0,
    HYDROXIDE: 22.9,   # TM(OH)2, 22.6-23.3
    ROCKSALT: 11.0,    # NiO
    LAYERED: 20.4,     # LiNi0.6Co0.2Mn0.2O2
}

#: Lithium atoms per formula unit of each lithium source.
LI_PER_FORMULA = {LIOH: 1, LI2O: 2, LI2CO3: 2}

#: Phases that carry transition metal.
TM_PHASES = (HYDROXIDE, ROCKSALT, LAYERED)
#: Phases that are lithium sources.
SOURCE_PHASES = (LIOH, LI2O, LI2CO3)

#: Molar masses, g/mol, for simulated thermogravimetry. NCM622 transition metal
#: Ni0.6Co0.2Mn0.2 = 57.99 g/mol.
M_TM = 0.6 * 58.693 + 0.2 * 58.933 + 0.2 * 54.938
MOLAR_MASS = {
    HYDROXIDE: M_TM + 2 * 17.007,      # TM(OH)2, per TM
    ROCKSALT: M_TM + 15.999,           # TMO, per TM
    LAYERED: 6.94 + M_TM + 2 * 15.999,  # LiTMO2, per TM
    LIOH: 23.95,                       # per Li
    LI2O: 29.88 / 2,                   # per Li
    LI2CO3: 73.89 / 2,                 # per Li
}
M_H2O = 18.015
M_CO2 = 44.009
M_O2 = 31.998
