import numpy as np

from vamo_jax.examples.toy import ToyConfig, run_toy


def test_vamo_beats_equal_weighting_on_the_toy_and_favours_the_aligned_task():
    results = run_toy(ToyConfig(steps=200))
    assert results["vamo"]["val_loss"] < 0.5 * results["equal"]["val_loss"]
    weights = np.asarray(results["vamo"]["weights"])
    assert weights.argmax() == 0 and weights[0] > 0.5
    np.testing.assert_allclose(results["equal"]["weights"], np.full(3, 1 / 3), rtol=1e-6)
