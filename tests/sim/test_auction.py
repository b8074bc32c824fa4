"""GSP auction rules on hand cases, and against a per-impression Python reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax.sim import auction
from vamo_jax.sim.auction import run_auction

EXPOSURE = np.array([1.0, 0.8, 0.6], np.float32)
_auction = jax.jit(run_auction, static_argnums=5)


def reference_auction(bids, valid, remaining, u, exposure, reserve):
    """Straight from the rules: one impression at a time, budgets charged in arrival order."""
    i_total, n = bids.shape
    k = len(exposure)
    payment = np.zeros((i_total, k))
    winner = np.zeros((i_total, k), int)
    spend = np.zeros(n)
    broke = np.zeros(n, bool)  # once a win does not fit, the advertiser is out for the tick
    for i in range(i_total):
        if not valid[i]:
            continue
        admitted = [(-bids[i, j], j) for j in range(n) if bids[i, j] >= reserve and bids[i, j] > 0]
        ranked = sorted(admitted)  # highest bid first, ties to the lower index
        for s in range(min(k, len(ranked))):
            j = ranked[s][1]
            price = max(-ranked[s + 1][0] if s + 1 < len(ranked) else 0.0, reserve)
            winner[i, s] = j
            if u[i, s] < exposure[s]:
                broke[j] |= spend[j] + price > remaining[j]
                if not broke[j]:
                    payment[i, s] = price
                    spend[j] += price
    return winner, payment, spend


def test_hand_case_ranking_prices_reserve_exposure():
    bids = np.array([[1.0, 3.0, 2.0, 0.5, 0.0],   # 0.5 is below the reserve
                     [9.0, 9.0, 9.0, 9.0, 9.0],   # impression did not arrive
                     [0.0, 0.0, 0.0, 0.0, 5.0]], np.float32)  # a single admitted bid
    valid = np.array([True, False, True])
    u = np.array([[0.0, 0.9, 0.5], [0.0, 0.0, 0.0], [0.99, 0.0, 0.0]], np.float32)
    out = _auction(jnp.asarray(bids), jnp.asarray(valid), jnp.full(5, 100.0), jnp.asarray(u),
                   jnp.asarray(EXPOSURE), 0.6)
    np.testing.assert_array_equal(out.winner[0], [1, 2, 0])
    np.testing.assert_allclose(out.price[0], [2.0, 1.0, 0.6])  # next bid; reserve when none
    np.testing.assert_array_equal(out.exposed[0], [True, False, True])  # 0.9 ≥ 0.8: slot 2 unseen
    np.testing.assert_allclose(out.payment[0], [2.0, 0.0, 0.6])  # cost only on exposure
    assert not out.sold[1].any() and float(out.payment[1].sum()) == 0.0
    np.testing.assert_array_equal(out.sold[2], [True, False, False])
    np.testing.assert_allclose(out.price[2, 0], 0.6)
    np.testing.assert_allclose(out.payment[2], [0.6, 0.0, 0.0])  # u = 0.99 < 1.0: slot 1 always shown
    np.testing.assert_allclose(out.spend, [0.6, 2.0, 0.0, 0.0, 0.6])
    np.testing.assert_allclose(out.least_winning_cost, [1.0, 0.0, 0.6])


def test_budget_drops_later_wins_in_arrival_order():
    bids = np.array([[5.0, 2.0, 1.0], [5.0, 2.0, 1.0], [5.0, 2.0, 1.0]], np.float32)
    u = np.zeros((3, 3), np.float32)
    out = _auction(jnp.asarray(bids), jnp.ones(3, bool), jnp.array([4.5, 100.0, 100.0]), jnp.asarray(u),
                   jnp.asarray(EXPOSURE), 0.1)
    # Advertiser 0 pays 2 per slot-1 win: two fit in 4.5, the third is dropped and goes unsold.
    np.testing.assert_array_equal(out.exposed[:, 0], [True, True, False])
    np.testing.assert_allclose(out.spend[0], 4.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference_and_conserves_payments(seed):
    rng = np.random.default_rng(seed)
    i_total, n = 40, 7
    bids = (rng.exponential(1.0, (i_total, n)) * (rng.random((i_total, n)) < 0.8)).astype(np.float32)
    bids[rng.random((i_total, n)) < 0.05] = 1e6  # extreme bids
    valid = rng.random(i_total) < 0.9
    remaining = rng.uniform(0.5, 8.0, n).astype(np.float32)
    u = rng.random((i_total, 3)).astype(np.float32)
    out = _auction(jnp.asarray(bids), jnp.asarray(valid), jnp.asarray(remaining), jnp.asarray(u),
                   jnp.asarray(EXPOSURE), 0.2)
    w_ref, pay_ref, spend_ref = reference_auction(bids, valid, remaining, u, EXPOSURE, 0.2)
    np.testing.assert_allclose(np.asarray(out.payment), pay_ref, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out.spend), spend_ref, rtol=1e-5)
    sold = np.asarray(out.sold)
    np.testing.assert_array_equal(np.asarray(out.winner)[sold], w_ref[sold])
    # Conservation: what the slots collect is what the advertisers pay; nobody above budget.
    np.testing.assert_allclose(np.asarray(out.payment).sum(), np.asarray(out.spend).sum(), rtol=1e-5)
    assert np.all(np.asarray(out.spend) <= remaining)


def test_equal_bids_rank_the_lower_index_first():
    bids = np.array([[2.0, 3.0, 3.0, 2.0, 3.0]], np.float32)
    out = _auction(jnp.asarray(bids), jnp.ones(1, bool), jnp.full(5, 100.0), jnp.zeros((1, 3)),
                   jnp.asarray(EXPOSURE), 0.1)
    np.testing.assert_array_equal(out.winner[0], [1, 2, 4])
    np.testing.assert_allclose(out.price[0], [3.0, 3.0, 2.0])  # a tie prices at the tied bid


@pytest.mark.parametrize("shape", [(650, 48), (40, 7), (16, 3), (17, 1), (300,)])
def test_cumsum_rows_is_a_cumulative_sum(shape):
    x = np.random.default_rng(0).exponential(size=shape).astype(np.float32)
    x[np.random.default_rng(1).random(shape) < 0.7] = 0.0  # mostly zeros, as a tick's costs
    got = np.asarray(jax.jit(auction._cumsum_rows)(jnp.asarray(x)))
    ref = np.cumsum(x.astype(np.float64), axis=0)
    # float32 rounding only: a few ulp of the running total (rows/16 + 16 additions deep).
    np.testing.assert_allclose(got, ref, rtol=0, atol=4e-7 * np.abs(ref).max())
    if jax.default_backend() == "cpu":  # it reproduces XLA:CPU's cumsum association exactly
        np.testing.assert_array_equal(got, np.asarray(jax.jit(lambda x: jnp.cumsum(x, axis=0))(x)))


def test_top_k_matches_a_stable_sort():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, (200, 9)).astype(np.float32)  # many ties
    vals, idxs = jax.jit(auction._top_k, static_argnums=1)(jnp.asarray(x), 4)
    order = np.argsort(-x, axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(np.asarray(idxs), order)
    np.testing.assert_array_equal(np.asarray(vals), np.take_along_axis(x, order, 1))
