"""Statistics over markets: nested variance components and the cluster bootstrap, on simulated
nested data with known components."""

import numpy as np
import pytest
import scipy.stats

from vamo_jax.stats import (
    cluster_bootstrap_ci,
    delta_m,
    delta_m_ci,
    market_delta_m_ci,
    market_difference_ci,
    market_mean_ci,
    mean_ci,
    variance_components,
    variance_split,
)


def nested(rng, shape, market_sd, seed_sd, traffic_sd, mean=0.0):
    """x[..., m, s, d] = mean + a_m + b_ms + e_msd, normal, over leading data-set axes of `shape[:-3]`."""
    *lead, m, s, d = shape
    return (mean + rng.normal(0, market_sd, (*lead, m, 1, 1)) + rng.normal(0, seed_sd, (*lead, m, s, 1))
            + rng.normal(0, traffic_sd, (*lead, m, s, d)))


def test_variance_components_recover_the_known_ones_within_their_sampling_error():
    m, s, d = 400, 4, 3
    var = {"market": 1.0, "seed": 0.5, "traffic": 2.0}
    x = nested(np.random.default_rng(0), (m, s, d), *(np.sqrt(v) for v in var.values()), mean=5.0)
    got = variance_components(x)
    # Expected mean squares and their degrees of freedom; a mean square is E·χ²_df/df under
    # normality, so var(MS) = 2E²/df, and the estimators are differences of independent ones.
    e_ms = {"traffic": var["traffic"], "seed": var["traffic"] + d * var["seed"]}
    e_ms["market"] = e_ms["seed"] + s * d * var["market"]
    df = {"market": m - 1, "seed": m * (s - 1), "traffic": m * s * (d - 1)}
    v_ms = {k: 2 * e_ms[k] ** 2 / df[k] for k in df}
    sd = {"traffic": np.sqrt(v_ms["traffic"]), "seed": np.sqrt(v_ms["seed"] + v_ms["traffic"]) / d,
          "market": np.sqrt(v_ms["market"] + v_ms["seed"]) / (s * d)}
    for level in var:
        assert abs(got[f"{level}_variance"] - var[level]) < 4 * sd[level], (level, got)
    # The sums of squares add up to the total (the decomposition is exact).
    ss = sum(got["mean_squares"][k] * df[k] for k in df)
    assert ss == pytest.approx(np.sum((x - x.mean()) ** 2), rel=1e-10)
    assert got["market_share"] == pytest.approx(got["market_variance"] / sum(got[f"{k}_variance"] for k in var))


def test_the_estimators_are_unbiased_and_the_mean_variance_is_the_means_spread():
    """Over 400 data sets: each component's mean is its true value (clipping at 0 is rare at these
    sizes: the market's mean square falls below the seed's with probability about 1e-3), and
    `mean_variance` averages to the variance of the grand means."""
    rng = np.random.default_rng(1)
    m, s, d = 40, 3, 2
    var = {"market": 1.0, "seed": 0.6, "traffic": 1.0}
    xs = nested(rng, (400, m, s, d), *(np.sqrt(v) for v in var.values()))
    results = [variance_components(x) for x in xs]
    for level, true in var.items():
        values = np.array([r[f"{level}_variance"] for r in results])
        assert np.mean(values == 0) < 0.01
        assert abs(values.mean() - true) < 4 * values.std() / np.sqrt(len(values)), level
    means = xs.mean((1, 2, 3))
    true_var = var["market"] / m + var["seed"] / (m * s) + var["traffic"] / (m * s * d)
    predicted = np.array([r["mean_variance"] for r in results])
    assert abs(predicted.mean() - true_var) < 4 * predicted.std() / np.sqrt(len(predicted))
    assert abs(means.var(ddof=1) / true_var - 1) < 4 * np.sqrt(2 / (len(means) - 1))


def test_a_negative_estimate_is_clipped_to_zero_and_missing_levels_are_none():
    # No market effect and few markets: the market mean square falls below the seed's by chance.
    x = nested(np.random.default_rng(2), (3, 4, 2), 0.0, 1.0, 0.1)
    got = variance_components(x)
    ms = got["mean_squares"]
    assert ms["market"] < ms["seed"] and got["market_variance"] == 0.0
    # One seed per market: the seed's part is inside the market's, which is the one-way estimator
    # with markets as groups (variance_split's, an independent implementation).
    one_seed = variance_components(x[:, :1])
    assert one_seed["seed_variance"] is None
    split = variance_split(x[:, 0])
    assert one_seed["market_variance"] == pytest.approx(split["seed_variance"])
    assert one_seed["traffic_variance"] == pytest.approx(split["traffic_variance"])
    # One draw: the traffic's part is inside the seed's (its mean square).
    one_draw = variance_components(x[..., 0])
    assert one_draw["traffic_variance"] is None and one_draw["seed_variance"] == one_draw["mean_squares"]["seed"]
    one_market = variance_components(x[:1])
    assert one_market["market_variance"] is None and one_market["mean_variance"] is None
    with pytest.raises(ValueError, match="markets, seeds"):
        variance_components(x[0, 0])
    with pytest.raises(ValueError, match="non-finite"):
        variance_components(np.where(x > 0, np.nan, x))


def coverage_and_width(xs, truth, ci=market_mean_ci, **options):
    cis = [ci(x, seed=i, **options) for i, x in enumerate(xs)]
    low, high = np.array([c.low for c in cis]), np.array([c.high for c in cis])
    return np.mean((low <= truth) & (truth <= high)), np.mean(high - low)


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_the_cluster_interval_covers_at_about_the_nominal_rate_and_is_wider_than_the_seed_level_one(method):
    """300 data sets, 20 markets × 3 seeds × 2 draws, the market dominant. The cluster interval
    covers the true mean at about 95% (a binomial sd of 0.013; the percentile interval's (M−1)/M
    shrinkage costs about 0.01 at M = 20); a bootstrap that treats the 60 seeds as independent is
    narrower (true sd of the mean 0.23 against its 0.14) and covers about 77%."""
    rng = np.random.default_rng(4)
    xs = nested(rng, (300, 20, 3, 2), 1.0, 0.3, 0.5, mean=2.0)
    cover, width = coverage_and_width(xs, 2.0, method=method, n_resamples=999)
    assert 0.90 <= cover <= 0.985, cover
    seed_level = [x.mean(-1).reshape(-1) for x in xs]
    naive_cover, naive_width = coverage_and_width(seed_level, 2.0, ci=mean_ci, method="percentile", n_resamples=999)
    assert naive_cover < 0.85 and width > 1.4 * naive_width, (naive_cover, width, naive_width)


def test_the_second_stage_is_conservative_when_seeds_dominate():
    """The documented bias: resampling seeds again within drawn markets adds their spread twice."""
    xs = nested(np.random.default_rng(5), (200, 20, 3, 1), 0.2, 1.0, 0.0)
    two_cover, two_width = coverage_and_width(xs, 0.0, method="percentile", n_resamples=499)
    one_cover, one_width = coverage_and_width(xs, 0.0, method="percentile", n_resamples=499, resample_seeds=False)
    assert two_width > 1.15 * one_width and two_cover >= one_cover and two_cover > 0.96


def test_bca_over_whole_markets_agrees_with_scipys_on_the_market_means():
    x = nested(np.random.default_rng(6), (30, 3, 2), 1.0, 0.5, 0.5)
    x = x + np.random.default_rng(7).exponential(2.0, (30, 1, 1))  # skewed: the acceleration matters
    ours = market_mean_ci(x, seed=0, resample_seeds=False)
    theirs = scipy.stats.bootstrap((x.mean((1, 2)),), np.mean, method="BCa", n_resamples=9999,
                                   rng=np.random.default_rng(1)).confidence_interval
    half = (theirs.high - theirs.low) / 2
    assert abs(ours.low - theirs.low) < 0.06 * half and abs(ours.high - theirs.high) < 0.06 * half


def test_one_market_is_todays_seed_level_interval_and_two_are_refused():
    x = nested(np.random.default_rng(8), (1, 8, 2), 1.0, 1.0, 0.5)
    ci = market_mean_ci(x, seed=3)
    today = mean_ci(x[0], seed=3)
    assert (ci.estimate, ci.low, ci.high) == (today.estimate, today.low, today.high)
    assert "conditional on this market" in ci.note
    kept = market_mean_ci(x, seed=3, resample_seeds=False)
    assert np.isnan(kept.low) and "nothing to resample" in kept.note
    two = market_mean_ci(np.concatenate([x, x + 1]), seed=3)
    assert np.isnan(two.low) and not two.resolved and "2 markets" in two.note


def test_paired_seeded_and_refused_inputs():
    rng = np.random.default_rng(9)
    base = nested(rng, (10, 2, 3), 3.0, 1.0, 1.0)  # market effects shared by both methods cancel
    method = base + 0.4 + rng.normal(0, 0.1, base.shape)
    diff = market_difference_ci(method, base, seed=1, method="percentile")
    assert diff == market_mean_ci(method.mean(-1) - base.mean(-1), seed=1, method="percentile")
    assert diff.resolved and diff.high - diff.low < 0.5
    assert market_mean_ci(base, seed=1) == market_mean_ci(base, seed=1)
    assert market_mean_ci(base, seed=1) != market_mean_ci(base, seed=2)
    constant = market_mean_ci(np.full((5, 2), 1.5), seed=0)
    assert (constant.low, constant.high) == (1.5, 1.5) and "point" in constant.note
    with pytest.raises(ValueError, match="equal shapes"):
        market_difference_ci(method, base[:, :1], seed=0)
    with pytest.raises(ValueError, match="method='basic'"):
        market_mean_ci(base, seed=0, method="basic")
    with pytest.raises(ValueError, match="markets, seeds"):
        market_mean_ci(base[0, 0], seed=0)
    with pytest.raises(ValueError, match="non-finite"):
        market_mean_ci(np.where(base > 0, np.inf, base), seed=0)


def per_task_returns(rng, shape, task_means, market_sd=0.3, seed_sd=0.2, traffic_sd=0.2):
    """(…, M, S, K, D) returns: per-task means and nested normal noise shared by the K tasks' markets."""
    *lead, m, s, k, d = shape
    x = nested(rng, (*lead, m, s, d), market_sd, seed_sd, traffic_sd)[..., None, :]
    return np.asarray(task_means)[:, None] + x + rng.normal(0, 0.1, (*lead, m, s, k, d))


def test_delta_m_over_whole_markets_agrees_with_scipys_paired_bootstrap_of_the_market_means():
    rng = np.random.default_rng(10)
    base = per_task_returns(rng, (25, 2, 3, 2), [4.0, 6.0, 2.0])
    method = base + rng.normal(np.array([0.2, -0.1, 0.3])[:, None], 0.4, (25, 1, 3, 1))  # per-market gains
    ours = market_delta_m_ci(method, base, seed=0, resample_seeds=False)
    a, b = method.mean((1, 3)), base.mean((1, 3))  # (M, K) market means
    assert ours.estimate == pytest.approx(float(delta_m(a.mean(0), b.mean(0))))

    def statistic(x, y, axis):  # scipy moves the market axis last: (K, …, M), the tasks first
        return delta_m(np.moveaxis(x.mean(axis), 0, -1), np.moveaxis(y.mean(axis), 0, -1))

    theirs = scipy.stats.bootstrap((a, b), statistic, paired=True, method="BCa", n_resamples=9999,
                                   rng=np.random.default_rng(1)).confidence_interval
    half = (theirs.high - theirs.low) / 2
    assert abs(ours.low - theirs.low) < 0.06 * half and abs(ours.high - theirs.high) < 0.06 * half


def test_delta_m_of_one_market_is_todays_and_scored_tasks_are_kept():
    rng = np.random.default_rng(11)
    base = per_task_returns(rng, (1, 6, 3, 2), [4.0, 6.0, 2.0])
    method = base + rng.normal(0.3, 0.3, base.shape)
    ci, today = market_delta_m_ci(method, base, seed=2), delta_m_ci(method[0], base[0], seed=2)
    assert (ci.estimate, ci.low, ci.high) == (today.estimate, today.low, today.high)
    assert "conditional on this market" in ci.note
    only = market_delta_m_ci(np.concatenate([method] * 4), np.concatenate([base] * 4), seed=2,
                             scored=np.array([True, False, False]))
    assert only.estimate == pytest.approx(-(method[..., 0, :].mean() - base[..., 0, :].mean())
                                          / base[..., 0, :].mean() * 100)
    with pytest.raises(ValueError, match="equal shapes"):
        market_delta_m_ci(method, base[..., :2, :], seed=0)
    with pytest.raises(ValueError, match="leading"):
        cluster_bootstrap_ci(lambda m: m, [np.zeros((4, 2)), np.zeros((4, 3))], seed=0)
