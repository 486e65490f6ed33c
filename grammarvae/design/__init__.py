"""Designing molecules in the latent space of any GrammarVAE.

- `LatentGP`: a sparse Gaussian-process property model on latent points (GPy).
- `optimize`: Bayesian optimisation of a property, the Grammar VAE paper's loop; `candidates`, the
  points it chooses among.
- `improve`, `summarize`, `property_model`: given molecules improved by gradient ascent under a similarity
  constraint (JT-VAE's constrained optimisation).
- `attribute_vector`, `property_direction`, `direction_of`, `shift`: latent attribute vectors
  and a molecule moved along one.
"""

from grammarvae.design.attributes import attribute_vector, direction_of, property_direction, shift
from grammarvae.design.bayesopt import Optimization, Proposal, candidates, expected_improvement, optimize
from grammarvae.design.constrained import Improvement, Step, improve, property_model, summarize, write_improvements
from grammarvae.design.gp import LatentGP

__all__ = ["Improvement", "LatentGP", "Optimization", "Proposal", "Step", "attribute_vector", "candidates",
           "direction_of", "expected_improvement", "improve", "optimize", "property_direction", "property_model", "shift",
           "summarize", "write_improvements"]
