"""Gradient-based methods on hand-built gradients against independent computations."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

CASES = {
    "orthogonal": np.array([[1.0, 0.0], [0.0, 2.0]]),
    "conflicting": np.array([[1.0, 0.0], [-1.2, 1.6]]),  # angle ≈ 127°
    "dominated": np.array([[1.0, 0.0], [2.0, 1.0]]),  # the hull's min-norm point is g_1
}
RANDOM = np.asarray(jax.random.normal(jax.random.key(7), (4, 6)), np.float64)


def _run(run_method, name, grads, **options):
    outs, state = run_method(name, {"w": jnp.asarray(grads, jnp.float32)}, options=tuple(options.items()))
    return np.asarray(outs[0]["w"], np.float64), np.asarray(state.weights, np.float64)


def _simplex_min(objective, k):
    cons = ({"type": "eq", "fun": lambda x: np.sum(x) - 1.0},)
    res = optimize.minimize(objective, np.full(k, 1.0 / k), bounds=[(0, 1)] * k, constraints=cons,
                            method="SLSQP", options={"ftol": 1e-14, "maxiter": 1000})
    return res.x


def mgda_reference(M):
    G = M @ M.T
    return _simplex_min(lambda w: w @ G @ w, len(M)) @ M


def cagrad_reference(M, c=0.4):
    """The reference's `cagrad` (scipy SLSQP) with rescale by 1 + c."""
    k = len(M)
    G = M @ M.T
    b = np.full(k, 1.0 / k)
    radius = c * np.sqrt(b @ G @ b + 1e-8)
    w = _simplex_min(lambda x: x @ G @ b + radius * np.sqrt(x @ G @ x + 1e-8), k)
    gw = w @ M
    return (M.mean(0) + radius / (np.linalg.norm(gw) + 1e-8) * gw) / (1 + c)


def aligned_reference(M):
    """Mean of the aligned gradients: rows of s_min U Vᵀ from the SVD M = U S Vᵀ."""
    U, S, Vt = np.linalg.svd(M, full_matrices=False)
    return S.min() * (U @ Vt).mean(0)


def pcgrad_reference_k2(M):
    g1, g2 = M
    p1 = g1 - min(0.0, g1 @ g2) / (g2 @ g2) * g2
    p2 = g2 - min(0.0, g1 @ g2) / (g1 @ g1) * g1
    return (p1 + p2) / 2


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "name,reference",
    [
        ("equal", lambda M: M.mean(0)),
        ("mgda", mgda_reference),
        ("cagrad", cagrad_reference),
        ("aligned_mtl", aligned_reference),
        ("pcgrad", pcgrad_reference_k2),
    ],
)
def test_two_task_cases_match_reference(name, reference, case, run_method):
    M = CASES[case]
    out, _ = _run(run_method, name, M)
    np.testing.assert_allclose(out, reference(M), atol=2e-4)


def test_two_task_closed_forms(run_method):
    M = CASES["orthogonal"]
    np.testing.assert_allclose(_run(run_method, "mgda", M)[0], [0.8, 0.4], atol=1e-6)
    np.testing.assert_allclose(_run(run_method, "aligned_mtl", M)[0], [0.5, 0.5], atol=1e-5)
    # CAGrad on orthonormal gradients: w = (½, ½), λ = c, d = (1 + c) g0 / (1 + c) = g0.
    np.testing.assert_allclose(_run(run_method, "cagrad", np.eye(2))[0], [0.5, 0.5], atol=1e-4)
    # Nash-MTL and IMTL-G on orthogonal gradients: w ∝ 1/‖g_k‖.
    for name in ("nashmtl", "imtl_g"):
        out, w = _run(run_method, name, M)
        np.testing.assert_allclose(w, [2 / 3, 1 / 3], atol=1e-4, err_msg=name)
    # FairGrad: ‖g_k‖² w_k = w_k^{-1/α}, so w ∝ ‖g_k‖^{-2α/(1+α)} (α = 2: (1, 2^{-4/3})).
    _, w = _run(run_method, "fairgrad", M)
    np.testing.assert_allclose(w, np.array([1.0, 2 ** (-4 / 3)]) / (1 + 2 ** (-4 / 3)), atol=1e-4)
    np.testing.assert_allclose(_run(run_method, "mgda", CASES["dominated"])[0], [1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(_run(run_method, "pcgrad", CASES["dominated"])[0], [1.5, 0.5], atol=1e-6)


@pytest.mark.parametrize("name", ["mgda", "cagrad", "aligned_mtl"])
def test_four_random_tasks_match_reference(name, run_method):
    reference = {"mgda": mgda_reference, "cagrad": cagrad_reference, "aligned_mtl": aligned_reference}[name]
    out, _ = _run(run_method, name, RANDOM)
    np.testing.assert_allclose(out, reference(RANDOM), atol=2e-3)


def test_mgda_is_the_min_norm_point_of_the_hull(run_method):
    # 6 tasks in 4 dimensions: the hull is full-dimensional and the min-norm point is interior to
    # a face; compare the norm with scipy's and check ⟨d, g_k⟩ ≥ ‖d‖² for every k.
    M = np.asarray(jax.random.normal(jax.random.key(11), (6, 4)), np.float64) + np.array([1.0, 0.5, 0, 0])
    out, w = _run(run_method, "mgda", M)
    ref = mgda_reference(M)
    assert abs(out @ out - ref @ ref) <= 1e-4 * (ref @ ref) + 1e-7
    np.testing.assert_allclose(out, ref, atol=2e-3)
    assert np.all(M @ out >= out @ out - 1e-4)
    np.testing.assert_allclose(w.sum(), 1.0, atol=1e-5)
    assert np.all(w >= 0)


def test_cagrad_with_c_zero_is_the_mean(run_method):
    out, _ = _run(run_method, "cagrad", RANDOM, c=0.0)
    np.testing.assert_allclose(out, RANDOM.mean(0), atol=1e-5)


def test_pcgrad_k2_has_no_negative_inner_product(run_method):
    M = np.asarray(jax.random.normal(jax.random.key(3), (20, 2, 5)), np.float64)
    for pair in M:
        out, _ = _run(run_method, "pcgrad", pair)
        assert np.all(pair @ out >= -1e-5), pair @ out


def test_pcgrad_k3_is_one_of_the_random_orders(run_method):
    M = np.array([[1.0, 0.0, 0.0], [-0.8, 1.0, 0.2], [-0.3, -0.9, 1.0]])

    def project(i, order):
        g = M[i].copy()
        for j in order:
            if g @ M[j] < 0:
                g = g - (g @ M[j]) / (M[j] @ M[j]) * M[j]
        return g

    per_task = [{tuple(np.round(project(i, o), 6)) for o in itertools.permutations(range(3))} for i in range(3)]
    candidates = {tuple(np.round(np.mean(c, 0), 5)) for c in itertools.product(*per_task)}
    outs, _ = run_method("pcgrad", {"w": jnp.asarray(M, jnp.float32)}, steps=6)
    seen = set()
    for out in outs:
        key = tuple(np.round(np.asarray(out["w"], np.float64), 5))
        assert min(np.abs(np.array(c) - key).max() for c in candidates) < 1e-4
        seen.add(key)
    assert len(candidates) > 1 and len(seen) > 1  # the order is random and changes with the step


@pytest.mark.parametrize("name,alpha", [("nashmtl", 1.0), ("fairgrad", 0.5), ("fairgrad", 2.0), ("fairgrad", 5.0)])
@pytest.mark.parametrize("case", ["conflicting", "dominated", "random"])
def test_fair_solutions_satisfy_their_equations(name, alpha, case, run_method):
    M = RANDOM if case == "random" else CASES[case]
    G = M @ M.T
    options = {"alpha": alpha} if name == "fairgrad" else {}
    _, w = _run(run_method, name, M, **options)
    assert np.all(w > 0)
    np.testing.assert_allclose(w.sum(), 1.0, atol=1e-5)
    # G w* = w*^{-1/α} with w* = s·w: (G w)_k w_k^{1/α} is the same for every k.
    lhs = (G @ w) * w ** (1.0 / alpha)
    np.testing.assert_allclose(lhs, np.full_like(lhs, lhs.mean()), rtol=2e-3)
    # And the reference's solver (scipy least_squares from the uniform start) agrees.
    ref = optimize.least_squares(lambda x: G @ x - x ** (-1.0 / alpha), np.full(len(M), 1.0 / len(M)),
                                 bounds=(0, np.inf), xtol=1e-12, ftol=1e-12, gtol=1e-12).x
    np.testing.assert_allclose(w, ref / ref.sum(), atol=2e-3)


@pytest.mark.parametrize("case", ["conflicting", "dominated", "random"])
def test_imtl_g_projections_are_equal(case, run_method):
    M = RANDOM if case == "random" else CASES[case]
    out, w = _run(run_method, "imtl_g", M)
    np.testing.assert_allclose(w.sum(), 1.0, atol=1e-5)
    proj = M @ out / np.linalg.norm(M, axis=1)
    np.testing.assert_allclose(proj, np.full_like(proj, proj.mean()), rtol=1e-3, atol=1e-5)


def test_nashmtl_update_every_reuses_the_weights(run_method):
    options = (("update_every", 2),)
    first = jnp.asarray(CASES["orthogonal"], jnp.float32)
    _, state = run_method("nashmtl", {"w": first}, options=options)
    outs, state2 = run_method("nashmtl", {"w": jnp.asarray(CASES["dominated"], jnp.float32)}, options=options, state=state)
    np.testing.assert_allclose(state2.weights, [2 / 3, 1 / 3], atol=1e-4)  # the orthogonal case's
    np.testing.assert_allclose(outs[0]["w"], np.array([2 / 3, 1 / 3]) @ CASES["dominated"], atol=1e-4)
    _, state3 = run_method("nashmtl", {"w": jnp.asarray(CASES["dominated"], jnp.float32)}, options=options, state=state2)
    assert not np.allclose(state3.weights, state2.weights, atol=1e-3)  # refreshed at step 2 (K = 2: w ∝ 1/‖g_k‖)
    np.testing.assert_allclose(state3.weights, np.array([1.0, 5**-0.5]) / (1 + 5**-0.5), atol=1e-4)


def _hard_cases():
    """Ill-conditioned Jacobians (K, P) where the old fixed-iteration solvers stopped short (issue 24):
    one gradient 100× the others (Gram condition number ~1e4–1e5; K > P makes it singular), and a
    nearly opposite pair."""
    rng = np.random.default_rng(24)
    out = []
    for k, p in ((5, 7), (8, 7), (8, 50)):
        A = rng.normal(size=(k, p))
        big = A.copy()
        big[0] *= 100
        opposite = A.copy()
        opposite[1] = -opposite[0] + 0.01 * rng.normal(size=p)
        out += [big, opposite]
    return [np.asarray(np.float32(a), np.float64) for a in out]


def _exact_min_norm(G):
    """argmin_{w∈Δ} wᵀGw in float64 by enumerating supports: on the optimal (affinely independent)
    support S the KKT system [G_SS 1; 1ᵀ 0] [w; μ] = [0; 1] holds with w ≥ 0."""
    k, best, best_val = len(G), None, np.inf
    for size in range(1, k + 1):
        for S in map(list, itertools.combinations(range(k), size)):
            kkt = np.block([[G[np.ix_(S, S)], np.ones((size, 1))], [np.ones((1, size)), np.zeros((1, 1))]])
            sol = np.linalg.lstsq(kkt, np.r_[np.zeros(size), 1.0], rcond=None)[0][:size]
            if sol.min() >= -1e-12 and abs(sol.sum() - 1) < 1e-9:
                w = np.zeros(k)
                w[S] = np.maximum(sol, 0)
                if w @ G @ w < best_val:
                    best, best_val = w, w @ G @ w
    return best


def _cosine(a, b):
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


@pytest.mark.parametrize("index", range(6))
def test_mgda_reaches_the_exact_min_norm_point_on_ill_conditioned_cases(index, run_method):
    M = _hard_cases()[index]
    exact = _exact_min_norm(M @ M.T) @ M
    out, w = _run(run_method, "mgda", M)
    assert _cosine(out, exact) > 1 - 1e-5  # FISTA (250 it.) gave 0.51–0.99 on such cases
    assert out @ out <= exact @ exact * (1 + 1e-4) + 1e-9 * np.max(np.sum(M**2, 1))
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-5


@pytest.mark.parametrize("index", range(6))
def test_cagrad_reaches_scipy_float64_optimum_on_ill_conditioned_cases(index, run_method):
    M = _hard_cases()[index]
    k, c = len(M), 0.4
    G, b = M @ M.T, np.full(len(M), 1.0 / len(M))
    radius = c * np.sqrt(b @ G @ b)

    def dual(x):
        return x @ G @ b + radius * np.sqrt(max(x @ G @ x, 0.0))

    starts = [np.full(k, 1.0 / k)] + list(np.eye(k)) + list(np.random.default_rng(index).dirichlet(np.ones(k), 8))
    cons = ({"type": "eq", "fun": lambda x: np.sum(x) - 1.0},)
    w = min((optimize.minimize(dual, s, bounds=[(0, 1)] * k, constraints=cons, method="SLSQP",
                               options={"ftol": 1e-15, "maxiter": 2000}).x for s in starts), key=dual)
    gw = w @ M
    exact = (M.mean(0) + radius * gw / np.linalg.norm(gw)) / (1 + c)
    out, _ = _run(run_method, "cagrad", M)
    assert _cosine(out, exact) > 1 - 1e-5  # projected gradient (100 it.) gave 0.996 on such cases
    scale = np.linalg.norm(M.mean(0)) * np.sqrt(np.max(np.sum(M**2, 1)))
    assert np.min(M @ out) >= np.min(M @ exact) - 1e-5 * scale  # the primal objective min_k ⟨g_k, d⟩


@pytest.mark.parametrize("name", ["nashmtl", "fairgrad", "imtl_g"])
def test_a_zero_task_gradient_gets_weight_zero_and_the_others_their_own_solution(name, run_method):
    M = RANDOM[:3]
    with_zero = np.concatenate([M, np.zeros((1, M.shape[1]))])
    out, w = _run(run_method, name, with_zero)
    reduced, w_reduced = _run(run_method, name, M)  # the method on the non-zero tasks alone
    assert w[3] == 0
    np.testing.assert_allclose(w[:3], w_reduced, atol=1e-4)
    np.testing.assert_allclose(out, reduced, atol=1e-4)
    assert np.linalg.norm(out) > 0.1 * np.linalg.norm(M.mean(0))  # not a vanishing step (was 1e-10 or 0)
