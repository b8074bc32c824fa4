"""FiLM (Perez et al., 2018): hidden features modulated by the requirement (VAMO summary)."""

from __future__ import annotations

import chex
import flax.linen as nn


class FiLM(nn.Module):
    """γ(y)·h + β(y) with γ(y) = 1 + Δγ(y); Δγ, β are zero at init: FiLM starts as the identity.

    Attributes:
      features: E, width of the hidden features.
    """

    features: int

    @nn.compact
    def __call__(self, hidden: chex.Array, requirement: chex.Array) -> chex.Array:
        """hidden: (B, N, E), requirement y: (B, R) -> (B, N, E)."""
        chex.assert_rank(hidden, 3)
        chex.assert_shape(requirement, (hidden.shape[0], None))
        zeros = nn.initializers.zeros
        scale = 1.0 + nn.Dense(self.features, kernel_init=zeros, name="delta_gamma")(requirement)
        shift = nn.Dense(self.features, kernel_init=zeros, name="beta")(requirement)
        return scale[:, None, :] * hidden + shift[:, None, :]
