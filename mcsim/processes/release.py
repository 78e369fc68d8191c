"""Lithium release from the source particles (LiOH, its Li2O residue, or Li2CO3).

Rule (applied per source voxel in the fused reaction kernel; variant ``first-order`` lets
every source voxel release, variant ``contact`` only those touching the particle): a LiOH
voxel may first
decompose, 2 LiOH -> Li2O + H2O, with probability 1 - exp(-k_d dt), k_d = 1.8e8 exp(-123
kJ/mol / RT) (J. Nucl. Mater. 87, 1979). Then each source voxel hands a share 1 - exp(-k dt)
of its lithium quanta to its own mobile-lithium field (rounded stochastically, so quanta stay
integers and lithium is conserved exactly); transport carries it on through the contacts.
k = A exp(-Ea/RT), multiplied by ``melt_release_factor`` once the source has melted (LiOH
462 C, Li2CO3 723 C). Lithium leaving LiOH takes half a water molecule with it; lithium leaving
Li2CO3 half a CO2. A source voxel whose solid is used up and whose mobile lithium has left
becomes pore.
"""

from __future__ import annotations

from mcsim.processes import slots as S
from mcsim.processes.base import Process, arrhenius, event_probability


class SourceRelease(Process):
    """First-order release from the source, LiOH decomposition, faster release from a melt."""

    name = "release"
    variant = "first-order"

    def rate(self, temperature_c: float, molten: bool) -> float:
        """Release rate constant (1/s) of the source solid, or of its melt."""
        k = arrhenius(self.params["release_a_per_s"], self.params["release_ea_j_per_mol"],
                      temperature_c)
        return k * self.params["melt_release_factor"] if molten else k

    def coefficients(self, coef, temperature_c, dt_s):
        molten = temperature_c >= self.params["source_melt_c"]
        p_source = event_probability(self.rate(temperature_c, molten), dt_s)
        coef[S.C_P_REL_LIOH] = p_source
        coef[S.C_P_REL_CO3] = p_source
        coef[S.C_P_REL_LI2O] = event_probability(self.rate(temperature_c, False), dt_s)
        coef[S.C_P_LIOH_DECOMP] = event_probability(
            arrhenius(self.params["lioh_decomp_a_per_s"], self.params["lioh_decomp_ea_j_per_mol"],
                      temperature_c), dt_s)

    def describe(self):
        return (f"release: {self.variant}, Ea {self.params['release_ea_j_per_mol'] / 1e3:.0f} kJ/mol, "
                f"x{self.params['melt_release_factor']:g} above {self.params['source_melt_c']:g} C")


class ContactRelease(SourceRelease):
    """As ``first-order``, but only source voxels touching the particle (a TM neighbour or a pore
    inside it) release; a used-up contact voxel becomes a pore on the path in, so the source
    is consumed from its contacts backwards (solid contact below the melting point)."""

    variant = "contact"

    def coefficients(self, coef, temperature_c, dt_s):
        super().coefficients(coef, temperature_c, dt_s)
        coef[S.C_CONTACT_ONLY] = 1.0
