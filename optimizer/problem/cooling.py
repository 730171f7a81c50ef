"""Step builder: cooling builds (where capacity can be added)."""
from __future__ import annotations

from optimizer.problem.data import ProblemData


def add_cooling(data: ProblemData, spec) -> None:
    """BUILD: (s,c,t) for every mode some accelerator can use (one unit is ``build_unit_mw``
    MW at ``build_cost_per_mw``)."""
    used_modes = {(s, c) for _, s, c in data.KSC}
    data.BUILD = [(s, c, t) for (s, c) in data.SC if (s, c) in used_modes
                  for t in range(data.n_periods)]
