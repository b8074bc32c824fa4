"""Per-task scoring of test-day rollouts (the part of `vamo_jax.evaluate` that needs no simulator)."""

import numpy as np
import pytest

from vamo_jax.evaluate import per_task_metrics


def test_per_task_metrics_with_subtasks_by_hand():
    # 5 advertisers, 4 learning tasks: two GMV sub-tasks, one Dir-GMV, one CartCnt.
    tasks = np.array([0, 1, 1, 2, 3])
    channels = np.array([0, 0, 1, 2])
    values = np.array([[10.0, 4.0, 8.0, 3.0, 2.0]])
    costs = np.array([[5.0, 2.0, 2.0, 1.5, 4.0]])
    out = per_task_metrics(values, costs, tasks, channels)
    np.testing.assert_allclose(out["return"], [[10.0, 6.0, 3.0, 2.0]])
    np.testing.assert_allclose(out["cost"], [[5.0, 2.0, 1.5, 4.0]])
    # ROI = value / cost for GMV and Dir-GMV, cost per cart = cost / carts for CartCnt.
    np.testing.assert_allclose(out["ratio"], [[2.0, 12.0 / 4.0, 2.0, 4.0 / 2.0]])


def test_per_task_metrics_defaults_to_the_three_campaign_types():
    tasks = np.array([0, 1, 2, 0])
    values, costs = np.array([[1.0, 2.0, 3.0, 5.0]]), np.ones((1, 4))
    np.testing.assert_allclose(per_task_metrics(values, costs, tasks)["return"], [[3.0, 2.0, 3.0]])


def test_a_task_without_advertisers_is_refused():
    with pytest.raises(ValueError, match=r"tasks \[2\] have no advertiser"):
        per_task_metrics(np.ones((1, 2)), np.ones((1, 2)), np.array([0, 1]), np.array([0, 1, 2]))
