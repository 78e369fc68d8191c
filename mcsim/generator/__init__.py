"""Initial-microstructure generators."""
from mcsim.generator.agglomerate import (Microstructure, bench_generator,
                                          generate_agglomerate, summary)

__all__ = ["Microstructure", "generate_agglomerate", "bench_generator", "summary"]
