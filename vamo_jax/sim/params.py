"""`EnvParams`: the static description of the auction market, frozen and validated.

All fields are Python scalars or tuples, so an `EnvParams` is hashable and is passed to jitted
functions as a static argument (it fixes array shapes: advertisers N, impression capacity I per
tick, slots K, ticks T, history window H). Everything random lives in `World` (drawn once from a
key) and in the per-day keys. See `vamo_jax.sim` for the generative model these fields drive.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np

POLICY_KINDS: tuple[str, ...] = ("pid", "fixed_alpha", "value_greedy")
"""Heuristic bidding policies of the competitors and of the behaviour policies."""


def _fail(field: str, value, fix: str) -> None:
    raise ValueError(f"EnvParams.{field}={value!r} is invalid: {fix}.")


COST_PER_RESULT: tuple[bool, ...] = (False, False, True)
"""Per campaign type (GMV, Dir-GMV, CartCnt): whether its constraint and online ratio are a cost per
result (CartCnt: cost per cart) rather than a return on spend (GMV, Dir-GMV: ROI)."""
TICKS_PER_DAY: int = 96
"""The paper's day: 96 ticks of 15 minutes (App. C); `EnvParams.ticks_per_day` is the configured one."""


@dataclasses.dataclass(frozen=True)
class EnvParams:
    """The market, its auction and its time structure.

    Attributes:
      num_advertisers: N advertisers (AuctionNet: 48 = 6 categories × 8).
      num_categories: advertiser categories; advertiser n is in category n mod num_categories.
      campaign_mix: share of advertisers per campaign type (GMV, Dir-GMV, CartCnt); counts are
        rounded by largest remainder (48 → 19/19/10).
      ticks_per_day: T decision ticks per day (96 × 15 min).
      impressions_per_day: expected impression opportunities per day, spread over ticks by the
        diurnal volume curve.
      capacity_margin: the static per-tick impression capacity is
        ceil(margin × peak expected per-tick volume); arrivals beyond it are truncated.
      num_slots: K ad slots per impression.
      slot_exposure: exposure probability of each slot (non-increasing, in (0, 1]).
      reserve_price: bids below it are not admitted; every price is floored at it.
      max_multiplier: actions (bid multipliers) are clipped into [0, max_multiplier]; NaN → 0.
      history_len: H market ticks in the temporal model's history window (1 ≤ H ≤ T).
      block_len: ticks per drift block (AuctionNet: 8).
      volume_amplitude, value_amplitude: diurnal amplitudes of volume and of conversion rate.
      volume_noise: log-sd of the per-tick random factor on volume.
      conv_rate: mean conversion probability of an impression.
      conv_rate_spread: log-sd of advertisers' base conversion rates around `conv_rate`.
      impression_sd: log-sd of an impression's conversion probability around its advertiser's.
      user_corr: correlation of that log-noise across advertisers (a shared "user quality").
      block_drift_sd: log-sd of the per-block, per-advertiser drift of conversion rates.
      order_value: mean GMV of a store conversion.
      direct_share: mean share of conversions that are direct (count towards Dir-GMV).
      cart_ratio: add-to-cart probability relative to conversion probability.
      unit_value: worth of one unit of each channel in bid currency (GMV, Dir-GMV: 1 per
        unit of GMV; CartCnt: price of a cart), so `bid = a × value_estimate` has a ≈ 1 on
        every task.
      day_shift_sd: per-task log-sd of the per-day regime shift of each value channel.
      day_volume_sd: log-sd of the per-day volume factor.
      day_competition_sd: log-sd of the per-day factor on competitors' bid multipliers.
      regime_corr: AR(1) coefficient of the day regimes (a day resembles the day before).
      budget_range: budgets are U(lo, hi) × the advertiser's fair share of the day's
        unconstrained spend (impressions_per_day × Σ exposure / N, in value units).
      competitor_mix: share of each heuristic in `POLICY_KINDS` among advertisers.
    """

    num_advertisers: int = 48
    num_categories: int = 6
    campaign_mix: tuple[float, float, float] = (0.4, 0.4, 0.2)
    ticks_per_day: int = TICKS_PER_DAY
    impressions_per_day: int = 24_000
    capacity_margin: float = 1.1
    num_slots: int = 3
    slot_exposure: tuple[float, ...] = (1.0, 0.8, 0.6)
    reserve_price: float = 0.05
    max_multiplier: float = 20.0
    history_len: int = 96
    block_len: int = 8
    volume_amplitude: float = 0.6
    value_amplitude: float = 0.25
    volume_noise: float = 0.1
    conv_rate: float = 0.05
    conv_rate_spread: float = 0.3
    impression_sd: float = 0.6
    user_corr: float = 0.5
    block_drift_sd: float = 0.1
    order_value: float = 20.0
    direct_share: float = 0.6
    cart_ratio: float = 3.0
    unit_value: tuple[float, float, float] = (1.0, 1.0, 6.0)
    day_shift_sd: tuple[float, float, float] = (0.10, 0.20, 0.30)
    day_volume_sd: float = 0.10
    day_competition_sd: float = 0.10
    regime_corr: float = 0.7
    budget_range: tuple[float, float] = (0.5, 1.5)
    competitor_mix: tuple[float, float, float] = (0.5, 0.25, 0.25)

    def __post_init__(self):
        if self.num_advertisers < 1:
            _fail("num_advertisers", self.num_advertisers, "need at least 1 advertiser")
        if not 1 <= self.num_categories <= self.num_advertisers:
            _fail("num_categories", self.num_categories, "use 1 ≤ num_categories ≤ num_advertisers")
        if self.ticks_per_day < 1:
            _fail("ticks_per_day", self.ticks_per_day, "use a positive number of ticks")
        if self.impressions_per_day < self.ticks_per_day:
            _fail("impressions_per_day", self.impressions_per_day, "use at least one per tick")
        if self.capacity_margin < 1.0:
            _fail("capacity_margin", self.capacity_margin, "use a margin ≥ 1")
        if self.num_slots < 1:
            _fail("num_slots", self.num_slots, "an auction needs at least one slot")
        if len(self.slot_exposure) != self.num_slots:
            _fail("slot_exposure", self.slot_exposure, f"give exactly num_slots={self.num_slots} probabilities")
        exp = np.asarray(self.slot_exposure, float)
        if np.any(~np.isfinite(exp)) or np.any(exp <= 0) or np.any(exp > 1) or np.any(np.diff(exp) > 0):
            _fail("slot_exposure", self.slot_exposure, "use non-increasing probabilities in (0, 1]")
        if not (math.isfinite(self.reserve_price) and self.reserve_price >= 0):
            _fail("reserve_price", self.reserve_price, "use a finite price ≥ 0")
        if not (math.isfinite(self.max_multiplier) and self.max_multiplier > 0):
            _fail("max_multiplier", self.max_multiplier, "use a finite multiplier > 0")
        if not 1 <= self.history_len <= self.ticks_per_day:
            _fail("history_len", self.history_len, f"use 1 ≤ H ≤ ticks_per_day={self.ticks_per_day}")
        if not 1 <= self.block_len <= self.ticks_per_day:
            _fail("block_len", self.block_len, "use 1 ≤ block_len ≤ ticks_per_day")
        for name in ("volume_amplitude", "value_amplitude"):
            if not 0 <= getattr(self, name) < 0.75:
                _fail(name, getattr(self, name), "use an amplitude in [0, 0.75) so the curve stays positive")
        for name in ("volume_noise", "conv_rate_spread", "impression_sd", "block_drift_sd",
                     "day_volume_sd", "day_competition_sd"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                _fail(name, v, "use a finite standard deviation ≥ 0")
        if any(not (math.isfinite(v) and v >= 0) for v in self.day_shift_sd) or len(self.day_shift_sd) != 3:
            _fail("day_shift_sd", self.day_shift_sd, "give 3 finite standard deviations ≥ 0")
        if not 0 < self.conv_rate < 1:
            _fail("conv_rate", self.conv_rate, "use a probability in (0, 1)")
        if not 0 <= self.user_corr <= 1:
            _fail("user_corr", self.user_corr, "use a correlation in [0, 1]")
        if not 0 < self.direct_share <= 1:
            _fail("direct_share", self.direct_share, "use a share in (0, 1]")
        if not (self.order_value > 0 and self.cart_ratio > 0):
            _fail("order_value/cart_ratio", (self.order_value, self.cart_ratio), "use positive values")
        if len(self.unit_value) != 3 or any(not (v > 0 and math.isfinite(v)) for v in self.unit_value):
            _fail("unit_value", self.unit_value, "give 3 finite positive unit values")
        if not 0 <= self.regime_corr < 1:
            _fail("regime_corr", self.regime_corr, "use an AR(1) coefficient in [0, 1)")
        lo, hi = self.budget_range
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
            _fail("budget_range", self.budget_range, "use 0 < lo ≤ hi (budgets must be positive)")
        for name in ("campaign_mix", "competitor_mix"):
            mix = np.asarray(getattr(self, name), float)
            if mix.shape != (3,) or np.any(mix < 0) or not np.isclose(mix.sum(), 1.0):
                _fail(name, getattr(self, name), "give 3 non-negative shares summing to 1")

    @property
    def num_blocks(self) -> int:
        return -(-self.ticks_per_day // self.block_len)

    @property
    def impression_capacity(self) -> int:
        """I, the static number of impression slots per tick (arrivals are masked within it)."""
        # Peak of the diurnal curve times a two-sigma tick × day volume factor.
        sd = math.hypot(self.volume_noise, self.day_volume_sd)
        peak = (1.0 + self.volume_amplitude * 1.3) * math.exp(2.0 * sd)
        return int(math.ceil(self.capacity_margin * peak * self.impressions_per_day / self.ticks_per_day))

    @property
    def mean_impressions_per_tick(self) -> float:
        return self.impressions_per_day / self.ticks_per_day

    def campaign_counts(self) -> tuple[int, int, int]:
        """Advertisers per task, by largest remainder."""
        return largest_remainder(self.campaign_mix, self.num_advertisers)

    def competitor_counts(self) -> tuple[int, int, int]:
        return largest_remainder(self.competitor_mix, self.num_advertisers)


def largest_remainder(shares, total: int) -> tuple[int, ...]:
    raw = np.asarray(shares, float) * total
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return tuple(int(c) for c in counts)


@dataclasses.dataclass(frozen=True)
class BehaviourSpread:
    """Which bidders write the logs, and the declared spread of the auto-bidders' quality.

    Attributes:
      kind: "heuristic" (the constraint-blind heuristics of `EnvParams.competitor_mix`: the logs
        as they were before issue 23) or "auto_bidder" (constraint-aware auto-bidders).
      naive_share: share of advertisers that keep a constraint-blind heuristic under
        "auto_bidder" (0.2: real markets hold bidders that ignore their target; their logs are
        the trajectories that miss it at every constraint level).
      constraint_gain: (lo, hi) of the uniform controller gain k_c per tick (0.02–0.3: from a
        bidder that barely corrects over a day of 96 ticks to one that closes a 10% ROI gap in
        about 4 ticks: the quality spread of the controllers).
      aim_margin: mean log margin of the ROI a bidder aims at over its constraint (0.05: a small
        safety margin, so a well-tuned bidder meets its constraint under the conversion lottery).
      aim_sd: log-sd of the aim around it (0.15: about one day-to-day value shift, so some bidders
        aim below their constraint and miss it: quality spread of the targets).
      prior_spend: c₀ as a share of the budget, the pseudo-spend at the aimed ROI that the
        running ROI starts from (0.01: it only keeps the first ticks' ROI finite; the value won
        is predicted, so there is no conversion lottery to smooth, and at 0.05 it outweighed a
        thin campaign's recent spend and froze its controller on the hand-built market of
        tests/sim/test_policies.py).
      integral_limit: ι_max, the anti-windup bound of the controller (log 20 ≈ 3: the controller
        can reach `max_multiplier`-sized bids and no further).
    """

    kind: Literal["heuristic", "auto_bidder"] = "heuristic"
    naive_share: float = 0.2
    constraint_gain: tuple[float, float] = (0.02, 0.3)
    aim_margin: float = 0.05
    aim_sd: float = 0.15
    prior_spend: float = 0.01
    integral_limit: float = 3.0

    def __post_init__(self):
        def fail(field, fix):
            raise ValueError(f"BehaviourSpread.{field}={getattr(self, field)!r} is invalid: {fix}.")

        if self.kind not in ("heuristic", "auto_bidder"):
            fail("kind", "use heuristic or auto_bidder")
        if not 0.0 <= self.naive_share <= 1.0:
            fail("naive_share", "use a share in [0, 1]")
        lo, hi = self.constraint_gain
        if not (math.isfinite(hi) and 0.0 <= lo <= hi):
            fail("constraint_gain", "use 0 ≤ lo ≤ hi, finite")
        for name in ("aim_margin", "aim_sd", "prior_spend", "integral_limit"):
            if not math.isfinite(getattr(self, name)):
                fail(name, "use a finite number")
        if self.aim_sd < 0:
            fail("aim_sd", "use a standard deviation ≥ 0")
        if self.prior_spend <= 0:
            fail("prior_spend", "use a share of the budget > 0")
        if self.integral_limit < 0:
            fail("integral_limit", "use a bound ≥ 0")
