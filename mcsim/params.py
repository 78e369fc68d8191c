"""Named model parameter sets: every value with its unit and its source (DOI) or calibration target."""

from __future__ import annotations

from dataclasses import dataclass

from mcsim.errors import ConfigError


@dataclass(frozen=True)
class Parameter:
    """One model parameter: value, unit, allowed range and where the value comes from."""

    value: float
    unit: str
    source: str
    lo: float = 0.0
    hi: float = float("inf")
    doc: str = ""


_CARNEY = "Carney et al., J. Alloys Compd. 2015, doi:10.1016/j.jallcom.2015.03.256"
_LIOH_DECOMP = "J. Nucl. Mater. 87 (1979), doi:10.1016/0022-3115(79)90137-5"
# sintering rates (MCS/s), see the sintering entries below
_GG_A = 7.0e8
_PM_A = 2.8e6
_VD_A = 7.0e8
_VD_P = 5.0e-4

#: The default set: NCM622 hydroxide with LiOH (docs/model.md; Park et al., Nat. Chem. 2022).
_NCM622_LIOH = {
    # dehydration TM(OH)2 -> TMO + H2O, first order
    "dehydration_a_per_s": Parameter(
        4.4e9, "1/s", "calibrated: core TM(OH)2 64 % dehydrated at 300 C on 5 C/min (paper Fig. 2j); "
        "Carney et al. give 1.27e10 for Ni(OH)2 (" + _CARNEY + ")",
        doc="dehydration pre-exponential"),
    "dehydration_ea_j_per_mol": Parameter(134e3, "J/mol", _CARNEY, doc="dehydration activation energy"),
    # topotactic lithiation TM(OH)2 + Li -> LiTMO2, where mobile lithium is present
    "lithiation_a_per_s": Parameter(
        1.1e8, "1/s", "calibrated: lithiation onset ~200 C at 5 C/min (paper Fig. 1l)",
        doc="topotactic lithiation pre-exponential"),
    "lithiation_ea_j_per_mol": Parameter(
        100e3, "J/mol", "calibrated: lithiation onset ~200 C at 5 C/min (paper Fig. 1l)",
        doc="topotactic lithiation activation energy"),
    # rock salt + Li -> layered, slow, >= 400 C
    "rocksalt_lithiation_a_per_s": Parameter(
        1.0e8, "1/s", "calibrated: layered from rock salt near 400 C and above (paper Ext. Data Fig. 2)",
        doc="rock-salt lithiation pre-exponential"),
    "rocksalt_lithiation_ea_j_per_mol": Parameter(
        130e3, "J/mol", "calibrated: layered from rock salt near 400 C and above (paper Ext. Data Fig. 2)",
        doc="rock-salt lithiation activation energy"),
    # lithium release from the source into the mobile inventory
    "release_a_per_s": Parameter(
        1.8e10, "1/s", "calibrated: LiOH hands Li to the hydroxide from ~200 C (paper Fig. 1l)",
        doc="lithium release from solid LiOH, pre-exponential"),
    "release_ea_j_per_mol": Parameter(
        120e3, "J/mol", "calibrated: LiOH hands Li to the hydroxide from ~200 C (paper Fig. 1l)",
        doc="lithium release from solid LiOH, activation energy"),
    "source_melt_c": Parameter(462.0, "C", "LiOH melting point (CRC Handbook)", lo=0.0, hi=2000.0,
                               doc="above this the source releases at the melt rate"),
    "melt_release_factor": Parameter(
        10.0, "1", "calibrated: molten LiOH wets open pores", lo=1.0,
        doc="release-rate multiplier above the melting point"),
    "lioh_decomp_a_per_s": Parameter(1.8e8, "1/s", _LIOH_DECOMP, doc="2 LiOH -> Li2O + H2O, pre-exponential"),
    "lioh_decomp_ea_j_per_mol": Parameter(123e3, "J/mol", _LIOH_DECOMP,
                                          doc="2 LiOH -> Li2O + H2O, activation energy"),
    "infiltration_rate_per_s": Parameter(
        0.05, "1/s", "calibrated: molten LiOH wets and fills open pores within minutes above 462 C",
        doc="rate at which molten LiOH moves into a neighbouring open pore"),
    # Li/Ni disorder of layered oxide (paper Fig. 1b, bottom: maximum near 300 C, then falls)
    "disorder_form": Parameter(0.08, "1", "calibrated: Li/Ni disorder maximum near 300 C (paper Fig. 1b)",
                               hi=0.255, doc="disorder of layered oxide when it forms"),
    "disorder_anneal_a_per_s": Parameter(
        1.0e5, "1/s", "calibrated: disorder falls above 300 C (paper Fig. 1b)",
        doc="disorder annealing pre-exponential"),
    "disorder_anneal_ea_j_per_mol": Parameter(
        100e3, "J/mol", "calibrated: disorder falls above 300 C (paper Fig. 1b)",
        doc="disorder annealing activation energy"),
    # ripening of dehydrated (half-filled) rock salt into resolved intragranular nanopores
    "ripening_a_per_s": Parameter(
        1.0e8, "1/s", "calibrated: nanopores visible in the 500 C sample (paper Fig. 3e)",
        doc="rock-salt ripening pre-exponential"),
    "ripening_ea_j_per_mol": Parameter(
        100e3, "J/mol", "calibrated: nanopores visible in the 500 C sample (paper Fig. 3e)",
        doc="rock-salt ripening activation energy"),
    "ripening_voxel_exponent": Parameter(
        2.0, "1", "estimated: diffusion over one voxel: a hop over dx takes ~dx^2/D, so a rate calibrated "
        "at 10 nm voxels scales as (10 nm / voxel_nm)^2 (0: no scaling, the rule before issue 12)",
        lo=0.0, hi=6.0, doc="exponent p of the ripening rate's voxel scaling (10 nm / voxel_nm)^p"),
    "ripening_coordination": Parameter(
        1.0, "1", "estimated: surface energy (Gibbs-Thomson): TM leaves the voxel with fewer solid "
        "neighbours for the one with more; 0: the emptier voxel gives (the rule before issue 12)",
        lo=0.0, hi=1.0, doc="share of ripening moves whose donor the coordination decides (the "
                            "rest: the emptier voxel gives)"),
    "ripening_surface_gaps": Parameter(
        1.0, "1", "estimated: geometry: a donor on its grain's surface that empties moves the surface in "
        "(the grain shrinks, the paper's loose core); 0: every emptied voxel is a nanopore (the "
        "rule before issue 12). The crystallography of the topotactic dehydration bounds the "
        "outline's share of the free volume by about 0.2 (the in-plane contraction; the "
        "collapse of the layer stacking stays inside), which about 0.17 gives at 10 nm "
        "(docs/microstructure.md); not the default", lo=0.0, hi=1.0,
        doc="share of the sites of a rock-salt grain's outline that may retreat (drawn once per "
            "voxel): an emptied surface voxel opens an intergranular gap (label -1); a kept site "
            "that would empty takes from an inner partner instead, which leaves a nanopore. At 0 "
            "every emptied voxel stays a nanopore of its grain, with no joining"),
    "expansion_fills_nanopores": Parameter(
        1.0, "1", "estimated: 1 is the earlier rule (layered oxide made from ripened "
        "rock salt spills its excess into any pore beside it). 0 is the paper's reading (Fig. 3f: "
        "the walls of the nanopores in the final product are Li-deficient rock salt): lithium "
        "reaches a rock-salt grain from its surface, so the grain expands outwards on "
        "lithiation and a nanopore enclosed in it is not filled. A diagnostic switch, not "
        "fitted", lo=0.0, hi=1.0,
        doc="chance that an overfull layered voxel spills its excess into a nanopore of its grain "
            "beside it (pores labelled intergranular or outside are always filled); below 1, an "
            "excess walled in by full voxels of its grain passes whole to one of them (chance "
            "1/2 per pair and sweep) until it reaches a pore it may fill"),
    "expansion_fills_pits_first": Parameter(
        0.0, "1", "estimated: a variant, 0 (the default) is the rule before it. Surface energy: "
        "solid added to a pore lowers the solid-pore contact most where the pore is most "
        "enclosed, so an expanding grain fills the bottom of a pit before its mouth. Without "
        "it the expansion seals pits of one grain at their mouths and leaves single-voxel "
        "nanopores whose number grows as the voxel shrinks (docs/validation.md, voxel size); "
        "not fitted to any finding", lo=0.0, hi=1.0,
        doc="chance per spill that the surface-energy order applies: an overfull layered voxel "
            "fills a pore beside it only if no face neighbour of that pore is a pore with more "
            "solid among its 26 neighbours (a pit fills from its bottom, and the expansion "
            "waits, or passes on through its grain, where the pore is not the most enclosed)"),
    "nanopore_site_spacing_nm": Parameter(
        0.0, "nm", "estimated: a variant, 0 (the default) is the rule before it. The sink mode "
        "of ripening: the free volume of dehydrated rock salt diffuses (inner voxels swap their "
        "fills at the ripening rate) until a sink takes it in: a retreating site of the grain's "
        "outline, a nanopore's wall, or a nucleation site, one per spacing^3 of volume on any "
        "lattice. The value tried, 30 nm, is the order of the nanopores in the paper's TEM "
        "images (Fig. 3d-f: tens of nm); not fitted to any finding (docs/validation.md, voxel "
        "size)",
        lo=0.0, hi=1000.0,
        doc="spacing of nanopore nucleation sites in rock salt (0: off, every ripening pair "
            "may open a pore)"),
    "consolidation_sinks": Parameter(
        0.0, "1", "estimated: a variant, 0 (the default) is the rule before it. The layered "
        "oxide made from hydroxide lost about a tenth of its volume by a change of its lattice "
        "parameters, which a coherent crystal takes up by shrinking as a whole: the loss belongs "
        "at the grain's outline, not in pores inside it. With 1, consolidation follows the sink "
        "mode of ripening without nucleation sites: the free volume of part-filled layered "
        "voxels hops between inner voxels (they swap their fills) until the outline (when "
        "ripening_surface_gaps > 0) or a nanopore's wall takes it in, so consolidation opens no "
        "new nanopore. Not fitted to any finding (docs/validation.md, voxel size)",
        lo=0.0, hi=1.0,
        doc="1: consolidation of part-filled layered oxide empties voxels only at the grain's "
            "outline or a nanopore's wall (its free volume hops there); 0: any pair may empty "
            "one (the rule before); values in between count as 1"),
    # sintering (mcsim.processes.sintering): Potts kinetic Monte Carlo above an onset; each
    # mechanism runs k = A exp(-Ea/RT) Monte Carlo steps (MCS) per second
    "sinter_onset_c": Parameter(
        600.0, "C", "sintering above ~600 C; primary grains of ~35 nm do not "
        "grow at 600 C in 12 h (Nat. Commun. 2023, doi:10.1038/s41467-023-44583-3)",
        lo=0.0, hi=2000.0, doc="below this temperature the sintering process does nothing"),
    "grain_growth_a_per_s": Parameter(
        _GG_A, "MCS/s", "calibrated: ~1000 Potts MCS in 12 h at 850 C (visible growth of the "
        "primary grains; 0.024 MCS/s) and ~1 MCS in 12 h at 600 C (35 nm grains do not grow, "
        "doi:10.1038/s41467-023-44583-3)", doc="Potts grain-growth attempt rate, pre-exponential"),
    "grain_growth_ea_j_per_mol": Parameter(
        225e3, "J/mol", "calibrated: the ratio of the 850 C and 600 C targets (1000 : 1 MCS in 12 h)",
        doc="Potts grain-growth activation energy"),
    "grain_growth_j_over_kt": Parameter(
        2.0, "1", "Potts convention kT = 0.5 J_gb (Tikare et al., J. Am. Ceram. Soc. 2010): "
        "boundaries rough enough not to pin on the lattice, growth Arrhenius through the rate",
        lo=0.0, hi=50.0, doc="grain-boundary energy per unlike contact over the Potts temperature"),
    "grain_growth_voxel_exponent": Parameter(
        2.0, "1", "estimated: curvature-driven boundary motion (Burke and Turnbull, Prog. Met. "
        "Phys. 3, 220 (1952)): a Potts MCS moves a boundary by a distance set by "
        "its curvature in voxel units, so mean grain size grows as d^2 ~ t; the same physical "
        "growth on a lattice of half the voxel takes 4 times the MCS; 0: MCS rate independent "
        "of the voxel (the rule before)", lo=0.0, hi=8.0,
        doc="exponent of the grain-growth MCS rate's voxel scaling (10 nm / voxel_nm)^k"),
    "grain_growth_j_voxel_exponent": Parameter(
        1.0, "1", "estimated: a numerics convention; the Potts temperature is a lattice device, "
        "not the furnace's. Holding (J/kT) / voxel_nm fixed gives a boundary the same thermal "
        "steps per nm at every voxel size (a step one voxel high along a row of boundary sites "
        "costs about J per site, J / voxel_nm per unit length), so J/kT = "
        "grain_growth_j_over_kt x (voxel_nm / 10 nm)^k with k = 1. Checked, not fitted: with it "
        "Potts growth among fixed 20 nm pores gives the same grain counts at 5, 3.3 and 2.5 nm "
        "voxels (docs/validation.md); k = 2 (J per voxel face ~ voxel_nm^2) was tried and lets "
        "dense growth run 1.7 times faster at 5 nm; 0: the same J/kT at every voxel (the rule "
        "before)",
        lo=0.0, hi=4.0,
        doc="exponent k of the voxel scaling (voxel_nm / 10 nm)^k of grain growth's J/kT"),
    "pore_migration_a_per_s": Parameter(
        _PM_A, "MCS/s", "calibrated: ~60 pore-migration MCS in 12 h at 850 C (0.0014 MCS/s): "
        "void walls smooth, while single-voxel nanopores, which random-walk at up to 6 swaps "
        "per MCS, are not swept out of the grains wholesale (paper Fig. 3d, 4c); set under the "
        "rules before issue 12: with today's, 93 % of R-NCM's core nanopores present on "
        "reaching 850 C are gone after its hold (docs/microstructure.md)",
        doc="pore-migration (surface-diffusion) attempt rate, pre-exponential"),
    "pore_migration_ea_j_per_mol": Parameter(
        200e3, "J/mol", "estimated: surface diffusion below the grain-growth activation energy",
        doc="pore-migration activation energy"),
    "pore_migration_voxel_exponent": Parameter(
        4.0, "1", "Herring's scaling law for surface diffusion (J. Appl. Phys. 21, 1950, "
        "doi:10.1063/1.1699658): a shape change of size L takes a time ~ L^4, so the pore "
        "migration of a feature of given physical size takes (10 nm / voxel_nm)^4 times the "
        "MCS on a finer lattice; 0: MCS rate independent of the voxel (the rule before)",
        lo=0.0, hi=8.0,
        doc="exponent of the pore-migration MCS rate's voxel scaling (10 nm / voxel_nm)^k"),
    "pore_migration_j_over_kt": Parameter(
        1.0, "1", "estimated: surface energy per solid/non-solid contact over kT; detaching a "
        "pore voxel from a flat wall (dU = +18) is then ~1e-8 per attempt",
        lo=0.0, hi=50.0, doc="surface energy per contact over kT for pore migration"),
    "pore_migration_j_voxel_exponent": Parameter(
        1.0, "1", "estimated: a numerics convention, grain growth's "
        "(grain_growth_j_voxel_exponent) for the pore surfaces: J/kT = pore_migration_j_over_kt "
        "x (voxel_nm / 10 nm)^k, k = 1. Checked, not fitted: 20 nm pore cubes on 25 % of a "
        "polycrystal, left to migrate for the MCS of R-NCM's hold, open a wide-pore fraction "
        "(30 nm balls) of 0.044, 0.032 and 0.049 at 10, 5 and 3.3 nm with it, and 0.0001 at "
        "5 nm with the same J/kT as at 10 nm (the pores roughen and never coarsen; "
        "docs/validation.md); 0: the same J/kT at every voxel (the rule before)",
        lo=0.0, hi=4.0,
        doc="exponent k of the voxel scaling (voxel_nm / 10 nm)^k of pore migration's J/kT"),
    "pore_migration_detach": Parameter(
        1.0, "1", "estimated: a variant, 1 (the default) is the rule before it: the Potts "
        "energy alone decides. Surface diffusion rounds and moves a pore but does not break "
        "voxel-sized pieces off it; the lattice's price for a piece is a multiple of its J/kT, "
        "which the lattice-temperature convention lowers on finer lattices, so a finer lattice "
        "sheds more single-voxel nanopores into the grains (docs/validation.md, voxel size); "
        "not fitted to any finding", lo=0.0, hi=1.0,
        doc="factor on the acceptance of a pore-migration move that cuts a single voxel off a "
            "larger pore (the voxel it moves into has all its other 25 neighbours solid, the one "
            "it leaves touches another pore); 0: pores never shed single voxels"),
    "nanopore_mobility": Parameter(
        0.01, "1", "estimated: a nanopore's wall is Li-deficient rock salt (paper Fig. 3f), on "
        "which TM moves as in NiO; Ni self-diffusion in NiO has Ea = 243 kJ/mol (58 kcal/mol, "
        "Atkinson & Taylor 1978, doi:10.1007/BF00647789) against the 200 kJ/mol of pore "
        "migration, so exp(-43 kJ/mol / RT) = 0.010 at 850 C; 0: immobile nanopores (the rule "
        "before issue 12)", lo=0.0, hi=1.0,
        doc="pore-migration acceptance of a nanopore (inside one grain) relative to other pores, "
            "at 10 nm voxels"),
    "nanopore_voxel_exponent": Parameter(
        2.0, "1", "estimated: a pore of radius r moved by the random surface hops of its wall "
        "atoms (Brownian motion) has a diffusivity ~ D_s / r^4 (Gruber, J. Appl. Phys. 38, 243 "
        "(1967)), so a single-voxel nanopore's hop over one voxel, dx^2 / "
        "D_p, takes ~ voxel_nm^6; the pore-migration MCS rate carries voxel_nm^-4 "
        "(pore_migration_voxel_exponent), the acceptance the remaining ^-2; 0: no extra scaling",
        lo=0.0, hi=8.0,
        doc="exponent q of the nanopore acceptance's voxel scaling (10 nm / voxel_nm)^q, capped "
            "at 1"),
    "densification_a_per_s": Parameter(
        _VD_A, "MCS/s", "calibrated: ~1000 densification MCS in 12 h at 850 C (same budget as "
        "grain growth)", doc="vacancy-annihilation attempt rate, pre-exponential"),
    "densification_ea_j_per_mol": Parameter(
        225e3, "J/mol", "estimated: grain-boundary diffusion, as grain growth",
        doc="vacancy-annihilation activation energy"),
    "densification_voxel_exponent": Parameter(
        2.0, "1", "estimated: a pore of given physical size meets a grain boundary along a line "
        "of ~ r / voxel_nm voxels, each annihilation removes voxel_nm^3, so the same physical "
        "shrinkage rate needs an MCS rate ~ voxel_nm^-2 (consolidation, which runs at the "
        "densification event rate, scales with it); 0: MCS rate independent of the voxel (the "
        "rule before)", lo=0.0, hi=8.0,
        doc="exponent of the densification MCS rate's voxel scaling (10 nm / voxel_nm)^k"),
    "densification_probability": Parameter(
        _VD_P, "1", "calibrated: visible densification in 12 h at 850 C (paper Fig. 3c, 4d)",
        lo=0.0, hi=1.0, doc="chance per MCS that a pore voxel on a grain boundary is annihilated"),
    "densification_curvature_weight": Parameter(
        1.0, "1", "estimated: Gibbs-Thomson, not fitted; the vacancy excess that drives a pore's "
        "vacancies into the grain boundary grows with the curvature of the pore surface "
        "(Coble 1961; Kingery and Francois 1967: pores wider than their surrounding grains are "
        "stable); read from the solid count n of the pore voxel's 26 neighbours, 0 at a flat "
        "wall (n = 9), 1 for an isolated vacancy (n = 26); 0: every grain-boundary pore "
        "annihilates at the same rate (the rule before)", lo=0.0, hi=1.0,
        doc="weight w of the curvature factor (1 - w) + w clip((n - 9) / 17, 0, 1) that "
            "multiplies the annihilation chance of a grain-boundary pore voxel"),
    "consolidation_rate_factor": Parameter(
        1.0, "1", "estimated: the pores below one voxel inside part-filled layered voxels (a "
        "layered voxel made from hydroxide is 89 % full) sinter as grain-boundary pores do, at "
        "the densification MCS rate times its per-MCS probability; 0: they never consolidate "
        "(the rule before issue 12)", lo=0.0, hi=1e6,
        doc="consolidation moves between part-filled layered voxels of one grain above the "
            "sintering onset, per pair, relative to the densification event rate"),
    "vacancy_constraint_per_nm": Parameter(
        1.0 / 40.0, "1/nm", "estimated: not fitted; a densifying region can drag along about one "
        "primary-grain thickness (40 nm) of fully stiffer material before its vacancies stay "
        "inside; constrained sintering of a porous body inside a stiffer one opens voids "
        "(Bordia and Scherer, Acta Metall. 36, 2393 (1988)); 0 switches the constraint off",
        lo=0.0, hi=1.0,
        doc="inward chance of an annihilated vacancy is 1 - exp(-k C), C the length (nm) of "
            "material stiffer than at the event, weighted by the bond-fraction excess, on the "
            "line to the nearest outer surface"),
    # reaction enthalpies for the simulated DTA (positive: endothermic), per mol TM or Li
    "dehydration_dh_j_per_mol": Parameter(
        48.2e3, "J/mol", "standard enthalpies of formation: Ni(OH)2 -> NiO + H2O(g) (CRC Handbook)",
        lo=-1e6, hi=1e6, doc="enthalpy of dehydration per TM"),
    "lithiation_dh_j_per_mol": Parameter(
        -40e3, "J/mol", "estimated: exothermic lithiation event near 200 C (paper Fig. 1l)",
        lo=-1e6, hi=1e6, doc="enthalpy of topotactic lithiation per TM"),
    "rocksalt_lithiation_dh_j_per_mol": Parameter(
        -90e3, "J/mol", "estimated: oxidative lithiation of rock salt, exothermic",
        lo=-1e6, hi=1e6, doc="enthalpy of rock-salt lithiation per TM"),
    "lioh_decomp_dh_j_per_mol": Parameter(
        67.7e3, "J/mol", "standard enthalpies of formation: 2 LiOH -> Li2O + H2O(g), per Li (CRC)",
        lo=-1e6, hi=1e6, doc="enthalpy of LiOH decomposition per Li"),
    "carbonate_dh_j_per_mol": Parameter(
        112.3e3, "J/mol", "standard enthalpies of formation: Li2CO3 -> Li2O + CO2, per Li (CRC)",
        lo=-1e6, hi=1e6, doc="enthalpy of Li2CO3 decomposition per Li"),
    # lithium transport: D = D0 exp(-Ea/RT) on fast paths (pore surfaces, grain boundaries,
    # layered product) and slow paths (hydroxide, rock salt)
    "d_fast_d0_m2_per_s": Parameter(
        8.5e-11, "m^2/s", "calibrated: core-shell at 300 C on 5 C/min (paper Fig. 2c-j)",
        doc="fast-path lithium diffusivity pre-exponential"),
    "d_fast_ea_j_per_mol": Parameter(
        60e3, "J/mol", "calibrated: core-shell at 300 C on 5 C/min (paper Fig. 2c-j)",
        doc="fast-path lithium diffusivity activation energy"),
    "d_slow_ratio": Parameter(
        0.1, "1", "calibrated: slow paths (hydroxide, rock salt) relative to fast", lo=0.0, hi=1.0,
        doc="slow-path diffusivity as a fraction of the fast-path one"),
    "d_cap_m2_per_s": Parameter(
        1.25e-16, "m^2/s", "calibrated: layered 69.7 % of the TM at 300 C on 5 C/min (paper "
        "Fig. 2j). Physically a ceiling on the fast-path lithium diffusivity: the Arrhenius law "
        "reaches it at ~264 C and D stays there up to 850 C (2.3x below the law at 300 C, 60x at "
        "500 C), which slows lithium supply after the core-shell forms; it also bounds the "
        "transport sub-steps. Its effect on the checks is measured in docs/validation.md",
        doc="ceiling on the fast-path lithium diffusivity (calibrated, not a speed-up)"),
}

_NCM622_LI2CO3 = dict(_NCM622_LIOH)
_NCM622_LI2CO3.update({
    "release_a_per_s": Parameter(
        2.6e9, "1/s", "calibrated: Li2CO3 reacts only at higher temperature (paper Ext. Data Fig. 2)",
        doc="lithium release from Li2CO3, pre-exponential"),
    "release_ea_j_per_mol": Parameter(
        160e3, "J/mol", "calibrated: Li2CO3 reacts only at higher temperature (paper Ext. Data Fig. 2)",
        doc="lithium release from Li2CO3, activation energy"),
    "source_melt_c": Parameter(723.0, "C", "Li2CO3 melting point (CRC Handbook)", lo=0.0, hi=2000.0,
                               doc="above this the source releases at the melt rate"),
})

#: Factor on the default set's two fitted diffusivity parameters (``d_fast_d0_m2_per_s``,
#: ``d_cap_m2_per_s``) that gives the paper's 300 C phase fractions (Fig. 2j) on a particle of
#: the paper's size, R = 5 um (10 um across), at 20 nm voxels (docs/model.md).
PAPER_SIZE_D_FACTOR = 46.5
_AT_PAPER_SIZE = (f"calibrated: at the paper's particle size, the default set's value x "
                  f"{PAPER_SIZE_D_FACTOR:g}, which gives Fig. 2j's layered share at 300 C on 5 "
                  "C/min on a particle of R = 5 um at 20 nm voxels (docs/model.md)")

#: The default set with the lithium diffusivities calibrated on a particle of the paper's size
#: (R = 5 um) instead of the 0.6 um default particle: the set for particles of a user's own
#: size, whose front timing then follows from R^2 / D rather than from a rescaled calibration.
_NCM622_LIOH_10UM = dict(_NCM622_LIOH)
_NCM622_LIOH_10UM.update({
    "d_fast_d0_m2_per_s": Parameter(
        _NCM622_LIOH["d_fast_d0_m2_per_s"].value * PAPER_SIZE_D_FACTOR, "m^2/s",
        _AT_PAPER_SIZE + " (the default's was fitted to the core-shell at 300 C, paper Fig. "
        "2c-j, on the 0.6 um particle)",
        doc="fast-path lithium diffusivity pre-exponential"),
    "d_cap_m2_per_s": Parameter(
        _NCM622_LIOH["d_cap_m2_per_s"].value * PAPER_SIZE_D_FACTOR, "m^2/s",
        _AT_PAPER_SIZE + " (the default's was fitted to the layered share at 300 C, paper Fig. "
        "2j, on the 0.6 um particle)",
        doc="ceiling on the fast-path lithium diffusivity (calibrated, not a speed-up)"),
})

PARAMETER_SETS: dict[str, dict[str, Parameter]] = {
    "ncm622-lioh": _NCM622_LIOH,
    "ncm622-li2co3": _NCM622_LI2CO3,
    "ncm622-lioh-10um": _NCM622_LIOH_10UM,
}

#: The lithium source each parameter set describes, and the set chosen for a source when the
#: configuration names none (``model.parameter_set`` left out): the source's release
#: kinetics and reaction enthalpies belong to that compound, so a mismatch is refused.
PARAMETER_SET_SOURCES: dict[str, str] = {"ncm622-lioh": "LiOH", "ncm622-li2co3": "Li2CO3",
                                         "ncm622-lioh-10um": "LiOH"}
SOURCE_PARAMETER_SETS: dict[str, str] = {"LiOH": "ncm622-lioh", "Li2CO3": "ncm622-li2co3"}


def resolve(name: str, overrides: dict | None = None) -> dict[str, float]:
    """Values of parameter set ``name`` with ``overrides`` applied, validated.

    Raises
    ------
    ConfigError
        Unknown set, unknown parameter, or a value outside the parameter's range.
    """
    if name not in PARAMETER_SETS:
        raise ConfigError("model.parameter_set", name, f"must be one of {sorted(PARAMETER_SETS)}")
    table = PARAMETER_SETS[name]
    values = {k: p.value for k, p in table.items()}
    for key, value in (overrides or {}).items():
        dotted = f"model.overrides.{key}"
        if key not in table:
            raise ConfigError(dotted, value, f"unknown parameter; allowed: {', '.join(sorted(table))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(dotted, value, f"must be a number ({table[key].unit})")
        p = table[key]
        if not (p.lo <= float(value) <= p.hi):
            raise ConfigError(dotted, value, f"must be in [{p.lo}, {p.hi}] {p.unit}")
        values[key] = float(value)
    return values


def describe(name: str) -> str:
    """A table of the parameter set: name, value, unit, source."""
    rows = [f"parameter set {name}"]
    for key, p in PARAMETER_SETS[name].items():
        rows.append(f"  {key:34s} {p.value:<12.6g} {p.unit:8s} {p.source}")
    return "\n".join(rows)
