"""The market's generative model: advertisers, diurnal curves, day regimes, impression draws.

Notation: N advertisers, I impression capacity per tick, T ticks, V = 3 value channels
(GMV, Dir-GMV, CartCnt), D days (day 0 is a burn-in day that only feeds the history window).

    volume(t)  = m·(1 + A_v cos 2π(t−t_v)/T + 0.3 A_v cos 4π(t−t_v')/T)      (mean 1 over a day)
    value(t)   = 1 + A_c cos 2π(t−t_c)/T                                       (conversion rate)
    arrivals   ~ Bernoulli(p_t) on each of the I slots,
                 p_t = impressions_per_day/T · volume(t) · e^{σ_v ε_t} · vol_d / I
    pconv_in   = clip(c_n · value(t) · drift_{d,b(t),n} · e^{σ_i u_in − σ_i²/2}, 0, 1),
                 u_in = √ρ_u z_i + √(1−ρ_u) e_in   (z_i: a user factor shared by all advertisers)
    amount_in  = g_n · e^{0.3 e'_in − 0.045} · s_{d,GMV}              (GMV of a conversion)
    q_in       = σ(logit(q_n) + 0.8 e''_in) · s_{d,Dir}, clipped to [0, 1] (P(direct | conv))
    pcart_in   = clip(pconv_in · r_n · e^{0.3 e'''_in − 0.045} · s_{d,Cart}, 0, 1)
    E[value]   = (pconv·amount, pconv·q·amount, pcart)                 (expected channel values)
    realised   = (C·amount, C·D·amount, A) with C ~ Bern(pconv), D ~ Bern(q), A ~ Bern(pcart),
                 drawn only for exposed winners.

`drift_{d,b,n} = e^{σ_b ε}` is drawn per day, per 8-tick block and per advertiser (AuctionNet's
block drift). The day regime `(log s_{d,GMV}, log s_{d,Dir}, log s_{d,Cart}, log vol_d,
log comp_d)` is an AR(1) over days with coefficient ρ_r and stationary sd `day_shift_sd` (per
task), `day_volume_sd`, `day_competition_sd`; `comp_d` scales every heuristic competitor's bid
multiplier. So each day, and most of all the test day, draws its own task-specific shift.

The task-shift axis (`shift_world`, issue 23): with strength s ≥ 0, every day from `onset_day`
on (in the data sets: the first day after the training days) adds `s × TASK_SHIFT_DIRECTION[c]`
to the log shift of value channel c. The AR(1) shifts are transient and the same in law for
every task; this one persists over the validation and test days and differs by task, so the
tasks differ in how well their training days represent the days after them. s = 0 is the
market without it, bit for bit.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.sim.params import COST_PER_RESULT, EnvParams

NUM_CHANNELS = 3
REGIME_NAMES: tuple[str, ...] = ("log_shift_gmv", "log_shift_dir_gmv", "log_shift_cart", "log_volume",
                                 "log_competition")
REGIME_DIM = len(REGIME_NAMES)
"""Per-day regime (the columns of `World.regime`): log shifts of the 3 channels, log volume factor,
log competition factor."""
TASK_SHIFT_DIRECTION: tuple[float, float, float] = (0.0, -0.5, 1.0)
"""Log shift per unit of task-shift strength s of each value channel (GMV, Dir-GMV, CartCnt) after
the onset. Declared before any run on it (issue 23): GMV stays (its training days represent the
later days as they do today), Dir-GMV's direct share falls by e^(−s/2) and CartCnt's add-to-cart
rate rises by e^s, so the three tasks sit at three degrees of representativeness, and with opposite
signs no common rescaling of values undoes the shift. (Column 0 also scales Dir-GMV, through the
order amount; it stays 0 so that Dir-GMV moves by its own column alone.)"""


@chex.dataclass(frozen=True)
class World:
    """Everything about the market drawn once from a key (advertisers and day regimes).

    Attributes:
      campaign: (N,) int32 campaign type of each advertiser (index into CAMPAIGN_NAMES).
      category: (N,) int32 category of each advertiser.
      budget: (N,) float32 daily budget.
      constraint: (N,) float32 target ROI (GMV, Dir-GMV tasks) or target cost per cart (CartCnt).
      conv_rate: (N,) base conversion probability c_n.
      order_value: (N,) mean GMV of a conversion g_n.
      direct_share: (N,) mean direct share q_n.
      cart_ratio: (N,) add-to-cart ratio r_n.
      regime: (D, 5) per-day regime in log space (see the module docstring).
    """

    campaign: chex.Array
    category: chex.Array
    budget: chex.Array
    constraint: chex.Array
    conv_rate: chex.Array
    order_value: chex.Array
    direct_share: chex.Array
    cart_ratio: chex.Array
    regime: chex.Array


@chex.dataclass(frozen=True)
class Impressions:
    """One tick's impression opportunities. I = params.impression_capacity.

    Attributes:
      valid: (I,) bool, the slot holds an arriving impression.
      pconv, amount, direct, pcart: (I, N) per-advertiser conversion probability, GMV of a
        conversion, P(direct | conversion), add-to-cart probability.
    """

    valid: chex.Array
    pconv: chex.Array
    amount: chex.Array
    direct: chex.Array
    pcart: chex.Array

    def expected_values(self) -> chex.Array:
        """(I, N, 3) expected value of each channel (GMV, Dir-GMV, CartCnt)."""
        gmv = self.pconv * self.amount
        return jnp.stack([gmv, gmv * self.direct, self.pcart], axis=-1)


def volume_curve(params: EnvParams) -> np.ndarray:
    """(T,) diurnal volume share, mean 1 (peaks in the evening, trough before dawn)."""
    t = np.arange(params.ticks_per_day) / params.ticks_per_day
    a = params.volume_amplitude
    c = 1.0 + a * np.cos(2 * np.pi * (t - 0.85)) + 0.3 * a * np.cos(4 * np.pi * (t - 0.45))
    return (c / c.mean()).astype(np.float32)


def value_curve(params: EnvParams) -> np.ndarray:
    """(T,) diurnal factor on conversion rates (higher in the evening)."""
    t = np.arange(params.ticks_per_day) / params.ticks_per_day
    return (1.0 + params.value_amplitude * np.cos(2 * np.pi * (t - 0.88))).astype(np.float32)


def campaign_assignment(params: EnvParams) -> np.ndarray:
    """(N,) campaign type of each advertiser: interleaved so every category holds every type."""
    counts = params.campaign_counts()
    order = np.concatenate([np.full(c, k) for k, c in enumerate(counts)])
    # Interleave: advertiser n takes the (n-th) element of a round-robin over types.
    key = np.concatenate([np.arange(c) / max(c, 1) for c in counts])
    return order[np.argsort(key, kind="stable")].astype(np.int32)


def fair_share_spend(params: EnvParams) -> float:
    """Unconstrained value-units spend of an average advertiser in a day: the budget scale."""
    return params.impressions_per_day * float(sum(params.slot_exposure)) / params.num_advertisers


def make_world(key: chex.PRNGKey, params: EnvParams, num_days: int) -> World:
    """Draws advertisers and the regimes of days 0..num_days-1 (day 0 = burn-in)."""
    if num_days < 1:
        raise ValueError(f"make_world: num_days={num_days} must be ≥ 1.")
    n = params.num_advertisers
    ks = jax.random.split(key, 8)
    campaign = jnp.asarray(campaign_assignment(params))
    category = jnp.arange(n, dtype=jnp.int32) % params.num_categories
    cat_effect = jax.random.normal(ks[0], (params.num_categories,))
    log_c = (jnp.log(params.conv_rate) - 0.5 * params.conv_rate_spread**2
             + params.conv_rate_spread * (0.7 * cat_effect[category] + 0.7 * jax.random.normal(ks[1], (n,))))
    conv_rate = jnp.clip(jnp.exp(log_c), 1e-4, 0.5)
    order_value = params.order_value * jnp.exp(0.3 * jax.random.normal(ks[2], (n,)) - 0.045)
    direct_share = jnp.clip(params.direct_share * jax.random.uniform(ks[3], (n,), minval=0.7, maxval=1.3), 0.05, 1.0)
    cart_ratio = params.cart_ratio * jnp.exp(0.3 * jax.random.normal(ks[4], (n,)) - 0.045)
    lo, hi = params.budget_range
    budget = fair_share_spend(params) * jax.random.uniform(ks[5], (n,), minval=lo, maxval=hi)
    roi_target = jax.random.uniform(ks[6], (n,), minval=0.8, maxval=1.6)
    unit = jnp.asarray(params.unit_value, jnp.float32)
    # A cost-per-result campaign's target is the cost of one unit at its target ROI.
    constraint = jnp.where(jnp.asarray(COST_PER_RESULT)[campaign], unit[campaign] / roi_target, roi_target)

    sd = jnp.asarray(list(params.day_shift_sd) + [params.day_volume_sd, params.day_competition_sd], jnp.float32)
    rho = params.regime_corr
    eps = jax.random.normal(ks[7], (num_days, REGIME_DIM))

    def ar(prev, e):
        x = rho * prev + jnp.sqrt(1.0 - rho**2) * e
        return x, x

    _, rest = jax.lax.scan(ar, eps[0], eps[1:])  # stationary: unit variance on every day
    regime = jnp.concatenate([eps[:1], rest], axis=0)
    return World(
        campaign=campaign, category=category, budget=budget.astype(jnp.float32),
        constraint=constraint.astype(jnp.float32), conv_rate=conv_rate.astype(jnp.float32),
        order_value=order_value.astype(jnp.float32), direct_share=direct_share.astype(jnp.float32),
        cart_ratio=cart_ratio.astype(jnp.float32), regime=(regime * sd).astype(jnp.float32),
    )


def draw_block_drift(key: chex.PRNGKey, params: EnvParams) -> chex.Array:
    """(num_blocks, N) multiplicative drift of conversion rates within one day."""
    e = jax.random.normal(key, (params.num_blocks, params.num_advertisers))
    return jnp.exp(params.block_drift_sd * e - 0.5 * params.block_drift_sd**2)


def draw_impressions(
    key: chex.PRNGKey, params: EnvParams, world: World, regime: chex.Array, drift: chex.Array, tick: chex.Array
) -> Impressions:
    """Draws tick `tick`'s impressions under the day's `regime` (5,) and `drift` (blocks, N)."""
    i_cap, n = params.impression_capacity, params.num_advertisers
    k_arr, k_tick, k_user, k_e = jax.random.split(key, 4)
    vol = jnp.asarray(volume_curve(params))[tick]
    val = jnp.asarray(value_curve(params))[tick]
    tick_factor = jnp.exp(params.volume_noise * jax.random.normal(k_tick) - 0.5 * params.volume_noise**2)
    expected = params.mean_impressions_per_tick * vol * tick_factor * jnp.exp(regime[3])
    valid = jax.random.uniform(k_arr, (i_cap,)) < expected / i_cap

    e = jax.random.normal(k_e, (4, i_cap, n))
    z = jax.random.normal(k_user, (i_cap, 1))
    s = params.impression_sd
    u = jnp.sqrt(params.user_corr) * z + jnp.sqrt(1.0 - params.user_corr) * e[0]
    block = jnp.minimum(tick // params.block_len, params.num_blocks - 1)
    pconv = jnp.clip(world.conv_rate * val * drift[block] * jnp.exp(s * u - 0.5 * s * s), 0.0, 1.0)
    amount = world.order_value * jnp.exp(0.3 * e[1] - 0.045 + regime[0])
    q = world.direct_share
    direct = jnp.clip(jax.nn.sigmoid(jnp.log(q / (1.0 - q + 1e-6)) + 0.8 * e[2]) * jnp.exp(regime[1]), 0.0, 1.0)
    pcart = jnp.clip(pconv * world.cart_ratio * jnp.exp(0.3 * e[3] - 0.045 + regime[2]), 0.0, 1.0)
    return Impressions(valid=valid, pconv=pconv, amount=amount, direct=direct, pcart=pcart)


def shift_world(world: World, strength: chex.Numeric, onset_day: chex.Numeric) -> World:
    """The world with the task-shift axis at `strength` s (see the module docstring).

    Args:
      world: from `make_world`; its regime is (D, 5).
      strength: () s ≥ 0, traced or static; 0 leaves `world` bit for bit.
      onset_day: () the first shifted day (days before it are the market as drawn).

    Returns:
      the World whose regime[d, c] gains s × TASK_SHIFT_DIRECTION[c] for d ≥ onset_day, c < 3.
    """
    regime = jnp.asarray(world.regime)
    after = (jnp.arange(regime.shape[0]) >= onset_day)[:, None]
    shift = jnp.concatenate([jnp.asarray(TASK_SHIFT_DIRECTION, jnp.float32), jnp.zeros(REGIME_DIM - NUM_CHANNELS)])
    # Where, not an add of 0: s = 0 must keep every bit (an add would turn −0.0 into +0.0).
    shifted = jnp.where(after & (strength != 0), regime + jnp.asarray(strength, jnp.float32) * shift, regime)
    return world.replace(regime=shifted.astype(regime.dtype))
