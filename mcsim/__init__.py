"""mcsim: lattice Monte Carlo / cellular-automaton simulator of NCM622 calcination."""

__version__ = "0.1.0"
