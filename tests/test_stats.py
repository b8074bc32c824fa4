import numpy as np
import pytest
import scipy.stats

from vamo_jax import stats
from vamo_jax.mtl.metrics import delta_m
from vamo_jax.stats import delta_m as stats_delta_m
from vamo_jax.stats import (
    MEASURED_COVERAGE,
    Interval,
    delta_m_ci,
    mean_ci,
    mean_difference_ci,
    paired_differences,
    probability_of_improvement,
    task_difference_cis,
    task_mean_cis,
)


@pytest.mark.parametrize("method", ["BCa", "percentile"])
def test_the_ci_of_a_normal_mean_agrees_with_the_t_interval(method):
    # n = 200: the bootstrap half-width is z·s·√((n−1)/n) against t's t₁₉₉·s, 0.8% narrower; each
    # endpoint's Monte Carlo error at 9999 resamples has sd ≈ 1.4% of the half-width; the sample's
    # own skewness moves the bootstrap distribution by O(1/√n). Over 30 data sets the worst
    # endpoint was 5.6% of the half-width off, so 8% is the tolerance.
    x = np.random.default_rng(3).normal(3.0, 2.0, 200)
    low, high = scipy.stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=scipy.stats.sem(x))
    ci = mean_ci(x, seed=0, method=method)
    half = (high - low) / 2
    assert ci.estimate == pytest.approx(x.mean())
    assert abs(ci.low - low) < 0.08 * half and abs(ci.high - high) < 0.08 * half
    assert ci.resolved and ci.note == ""


def test_a_constant_paired_shift_gives_a_point_at_the_shift_and_small_noise_a_narrow_interval():
    base = np.random.default_rng(0).normal(100.0, 30.0, 8)  # seeds differ a lot, the difference does not
    ci = mean_difference_ci(base + 2.5, base, seed=0)
    assert (ci.estimate, ci.low, ci.high) == pytest.approx((2.5, 2.5, 2.5)) and ci.resolved and "point" in ci.note
    noisy = mean_difference_ci(base + 2.5 + np.random.default_rng(1).normal(0, 0.01, 8), base, seed=0)
    assert 2.48 < noisy.low < 2.5 < noisy.high < 2.52 and noisy.resolved
    # Unpaired, the seed spread (30) swamps the shift: the two means' intervals overlap.
    assert mean_ci(base + 2.5, seed=0).low < mean_ci(base, seed=0).high


def test_delta_m_resamples_the_seeds_of_method_and_baseline_jointly():
    base = np.random.default_rng(0).uniform(50.0, 150.0, (8, 3))
    ci = delta_m_ci(1.2 * base, base, seed=0)  # every resample: Δm% = −20 exactly
    assert (ci.estimate, ci.low, ci.high) == pytest.approx((-20.0, -20.0, -20.0)) and ci.resolved
    method = base + np.random.default_rng(1).normal(0.0, 10.0, (8, 3))
    ci = delta_m_ci(method, base, seed=0)
    assert ci.estimate == pytest.approx(delta_m(method.mean(0), base.mean(0)))
    assert ci.low < ci.estimate < ci.high
    rows = np.random.default_rng(2).uniform(1.0, 2.0, (5, 2, 3))
    np.testing.assert_allclose(stats_delta_m(rows[:, 0], rows[:, 1]),
                               [delta_m(m, b) for m, b in rows], rtol=1e-12)


def test_delta_m_is_over_the_tasks_the_baseline_scores():
    base = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    ci = delta_m_ci(base * 1.5 + [0, 9], base, seed=0)
    assert ci.estimate == pytest.approx(-50.0) and ci.low == pytest.approx(-50.0)
    none = delta_m_ci(np.ones((3, 2)), np.zeros((3, 2)), seed=0)
    assert np.isnan(none.estimate) and not none.resolved and "nothing" in none.note


def test_same_seed_same_interval_other_seed_other_resamples():
    x = np.random.default_rng(0).normal(size=(6, 3))
    y = x + np.random.default_rng(1).normal(0.3, 1.0, size=(6, 3))
    assert delta_m_ci(y + 5, x + 5, seed=7) == delta_m_ci(y + 5, x + 5, seed=7)
    assert task_difference_cis(y, x, seed=7) == task_difference_cis(y, x, seed=7)
    assert mean_ci(x[:, 0], seed=7) != mean_ci(x[:, 0], seed=8)


def test_two_seeds_give_no_interval_with_a_note():
    for ci in (mean_ci([1.0, 2.0], seed=0), mean_difference_ci([1.0, 2.0], [0.0, 0.5], seed=0),
               delta_m_ci(np.ones((2, 3)), np.full((2, 3), 2.0), seed=0)):
        assert np.isnan(ci.low) and np.isnan(ci.high) and not ci.resolved and "2 seed(s)" in ci.note
    assert mean_ci([1.0, 2.0], seed=0).estimate == 1.5


def test_a_ci_scipy_cannot_compute_is_nan_with_its_reason():
    base = np.array([[1.0, 1.0], [2.0, 1.0], [1.5, 0.0], [1.2, 0.0]])  # task 1's baseline is 0 on two seeds
    ci = delta_m_ci(base * 1.1, base, seed=0)  # some resamples divide by a zero baseline mean
    assert ci.estimate == pytest.approx(-10.0)
    assert np.isnan(ci.low) and not ci.resolved and ci.note.startswith("no interval:")
    assert Interval(1.0, float("nan"), float("nan")).as_dict() == {"estimate": 1.0, "low": None, "high": None,
                                                                   "resolved": False}


def test_test_draws_are_averaged_within_a_seed_the_seed_is_the_resampling_unit():
    x = np.random.default_rng(0).normal(size=(5, 3, 4))  # (S, K, D)
    assert task_mean_cis(x, seed=1) == task_mean_cis(x.mean(-1), seed=1)
    assert mean_ci(x[:, 0], seed=1) == mean_ci(x[:, 0].mean(-1), seed=1)
    np.testing.assert_allclose(paired_differences(x, x[::-1], ndim=2), x.mean(-1) - x[::-1].mean(-1))
    with pytest.raises(ValueError, match="equal shapes"):
        paired_differences(np.ones((3, 2)), np.ones((4, 2)), ndim=2)


def test_probability_of_improvement_by_hand_and_against_mann_whitney():
    assert probability_of_improvement([[1.0], [2.0], [3.0]], [[0.0], [2.0], [4.0]])[0] == pytest.approx(4.5 / 9)
    assert probability_of_improvement(np.full((3, 2), 5.0), np.ones((4, 2)))[0] == 1.0
    assert probability_of_improvement(np.ones((3, 2)), np.full((3, 2), 5.0))[0] == 0.0
    same = np.random.default_rng(0).normal(size=(4, 2))
    assert probability_of_improvement(same, same)[0] == 0.5
    a, b = np.random.default_rng(1).integers(0, 4, (6, 3)).astype(float), np.random.default_rng(2).integers(0, 4, (5, 3)).astype(float)
    mean, per_task = probability_of_improvement(a, b)
    u = [scipy.stats.mannwhitneyu(a[:, k], b[:, k], alternative="greater").statistic / (6 * 5) for k in range(3)]
    np.testing.assert_allclose(per_task, u)
    assert mean == pytest.approx(np.mean(u))


def test_with_eight_seeds_the_interval_under_covers_as_documented():
    # 200 normal data sets of 8 seeds (999 resamples, for speed): the documented ~90%, not 95%.
    covered = [mean_ci(np.random.default_rng(100 + r).normal(0.0, 1.0, 8), seed=r, n_resamples=999)
               for r in range(200)]
    coverage = np.mean([ci.low <= 0.0 <= ci.high for ci in covered])
    assert abs(coverage - dict(MEASURED_COVERAGE)[8]) < 0.06 and coverage < 0.95


def test_variance_split_on_a_hand_case():
    # two seeds with draw means 1 and 3, each draw ±1 around it: W = 2 (var of (0, 2) with ddof 1),
    # B = var(1, 3) = 2, σ²_seed = B − W / D = 2 − 1 = 1.
    x = np.array([[0.0, 2.0], [2.0, 4.0]])
    split = stats.variance_split(x)
    assert split["traffic_variance"] == pytest.approx(2.0) and split["seed_mean_variance"] == pytest.approx(2.0)
    assert split["seed_variance"] == pytest.approx(1.0) and split["traffic_share"] == pytest.approx(2 / 3)
    assert split["traffic_share_of_seed_means"] == pytest.approx(0.5)


def test_variance_split_recovers_known_components():
    rng = np.random.default_rng(0)
    seeds, draws = 4000, 4
    x = 3.0 * rng.normal(size=(seeds, 1)) + 1.0 * rng.normal(size=(seeds, draws))
    split = stats.variance_split(x)
    assert split["seed_variance"] == pytest.approx(9.0, rel=0.06)
    assert split["traffic_variance"] == pytest.approx(1.0, rel=0.03)
    assert split["traffic_share"] == pytest.approx(0.1, rel=0.08)


def test_variance_split_with_one_draw_has_no_traffic_part():
    split = stats.variance_split(np.array([[1.0], [3.0], [5.0]]))
    assert split["seed_mean_variance"] == pytest.approx(4.0)
    assert split["traffic_variance"] is None and split["seed_variance"] is None
