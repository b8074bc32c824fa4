"""The shared causal Transformer f_θs (paper §3.2), with FiLM(y) between blocks."""

from __future__ import annotations

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from vamo_jax.models.film import FiLM

MLP_RATIO = 4


class Block(nn.Module):
    """A pre-norm Transformer block: masked self-attention, then an MLP, both residual.

    Attributes:
      num_heads: attention heads.
    """

    num_heads: int

    @nn.compact
    def __call__(self, tokens: chex.Array, mask: chex.Array) -> chex.Array:
        """tokens: (B, N, E), mask: (B, 1, N, N) bool (query, key) -> (B, N, E)."""
        width = tokens.shape[-1]
        attended = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, name="attention")(
            nn.LayerNorm()(tokens), mask=mask)
        tokens = tokens + attended
        hidden = nn.Dense(MLP_RATIO * width)(nn.LayerNorm()(tokens))
        hidden = nn.Dense(width)(jax.nn.gelu(hidden))
        return tokens + hidden


class CausalTransformer(nn.Module):
    """`depth` blocks; each token attends to itself and the valid tokens before it.

    Attributes:
      depth: number of blocks.
      num_heads: attention heads.
      film: apply FiLM(requirement) to the hidden features after every block.
    """

    depth: int
    num_heads: int
    film: bool

    @nn.compact
    def __call__(
        self,
        tokens: chex.Array,
        valid: chex.Array,
        requirement: chex.Array,
    ) -> chex.Array:
        """tokens: (B, N, E), valid: (B, N) 1 on real tokens, requirement y: (B, R) -> (B, N, E)."""
        b, n, width = tokens.shape
        chex.assert_shape(valid, (b, n))
        causal = jnp.tril(jnp.ones((n, n), bool))
        # A token always sees itself, so a padding query never has an empty (NaN) softmax.
        keys = (valid[:, None, :] > 0) | jnp.eye(n, dtype=bool)[None]
        mask = (causal[None] & keys)[:, None]
        for layer in range(self.depth):
            tokens = Block(self.num_heads, name=f"block{layer}")(tokens, mask)
            if self.film:
                tokens = FiLM(width, name=f"film{layer}")(tokens, requirement)
        return nn.LayerNorm(name="final_norm")(tokens)
