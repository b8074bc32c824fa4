import numpy as np
import pytest

from vamo_jax.mtl.metrics import delta_m, mean_rank


def test_delta_m_reproduces_the_papers_vamo_row():
    # Table 1 of the paper: STL 12.06/17.88/2.87 and VAMO 24.23/24.25/3.77 give Δm = −55.97.
    assert delta_m([24.23, 24.25, 3.77], [12.06, 17.88, 2.87]) == pytest.approx(-55.97, abs=0.01)


def test_delta_m_signs_and_lower_is_better_metrics():
    assert delta_m([1.0, 1.0], [1.0, 1.0]) == 0.0
    assert delta_m([2.0], [1.0]) == pytest.approx(-100.0)
    assert delta_m([2.0], [1.0], higher_is_better=[False]) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="zero metric"):
        delta_m([1.0], [0.0])


def test_mean_rank_with_ties():
    ranks = mean_rank({"a": [3, 1], "b": [2, 2], "c": [3, 0]})
    assert ranks == {"a": pytest.approx((1.5 + 2) / 2), "b": pytest.approx((3 + 1) / 2), "c": pytest.approx((1.5 + 3) / 2)}
    np.testing.assert_allclose(sum(ranks.values()), 6.0)
