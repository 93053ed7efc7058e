"""geobench.aggregate.stats and its engine (resample): values by hand, against scipy/rliable, and
input checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import trim_mean

from geobench.aggregate import stats
from geobench.aggregate.resample import (
    TrimmedMeanPlan,
    bootstrap_groups,
    quantiles,
    resample_counts,
    resample_counts_datasets,
)


def _realistic(rng: np.random.Generator, seeds: int = 5, datasets: int = 6) -> np.ndarray:
    """Normalized-score-like arrays: dataset levels apart, seeds close together."""
    levels = rng.uniform(0.1, 0.9, size=datasets)
    return levels[None, :] + rng.normal(0, 0.02, size=(seeds, datasets))


# ---------------------------------------------------------------------------- point statistics


def test_iqm_by_hand() -> None:
    # n=8: cut 2 from each end -> mean(3, 4, 5, 6)
    x = np.array([8.0, 1, 7, 2, 6, 3, 5, 4])
    assert stats.iqm(x) == pytest.approx(4.5)
    # n=5: cut int(1.25)=1 -> mean(2, 3, 4)
    assert stats.iqm(np.array([5.0, 1, 4, 2, 3])) == pytest.approx(3.0)
    # n=3: cut 0 -> plain mean
    assert stats.iqm(np.array([1.0, 2, 10])) == pytest.approx(13 / 3)
    m = np.array([[1.0, 100], [2, 200], [3, 300], [4, 400]])
    np.testing.assert_allclose(stats.iqm(m, axis=0), [2.5, 250])
    assert stats.iqm(m, axis=None) == pytest.approx(trim_mean(m, 0.25, axis=None))


def test_iqm_matches_scipy_on_random_arrays() -> None:
    rng = np.random.default_rng(0)
    for n in range(1, 30):
        x = rng.normal(size=(3, n))
        np.testing.assert_allclose(stats.iqm(x, axis=1), trim_mean(x, 0.25, axis=1), atol=1e-12)


@pytest.mark.parametrize("bad, msg", [
    (np.array([1.0, np.nan]), "NaN"),
    (np.array([]), "no values"),
])
def test_iqm_rejects_bad_input(bad: np.ndarray, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        stats.iqm(bad)


def test_probability_of_improvement_by_hand_and_vs_rliable() -> None:
    from rliable import metrics

    x = np.array([[1.0, 0.5], [2.0, 0.5]])
    y = np.array([[1.5, 0.5], [0.5, 0.5], [3.0, 0.5]])
    # dataset 0: pairs x>y: (1>0.5), (2>1.5), (2>0.5) = 3 of 6; dataset 1: all ties -> 0.5
    assert stats.probability_of_improvement(x, y) == pytest.approx((3 / 6 + 0.5) / 2)
    assert stats.probability_of_improvement(x, x) == pytest.approx(0.5)
    rng = np.random.default_rng(1)
    for _ in range(5):
        a, b = np.round(rng.random((5, 4)), 1), np.round(rng.random((3, 4)), 1)
        assert stats.probability_of_improvement(a, b) == pytest.approx(
            metrics.probability_of_improvement(a, b))


def test_performance_profile_by_hand() -> None:
    x = np.array([[0.1, 0.5], [0.9, 0.5]])
    np.testing.assert_allclose(stats.performance_profile(x, np.array([0.0, 0.5, 0.95])),
                               [1.0, 0.25, 0.0])


# ---------------------------------------------------------------------------- the engine


def test_resample_counts_are_a_stratified_bootstrap() -> None:
    sizes = [5, 3, 5, 1, 6, 2, 8]  # table path (n <= 6), n = 1, and the draw path (n = 8)
    c = resample_counts(sizes, 40_000, np.random.default_rng(0))
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for s, n in enumerate(sizes):
        block = c[offsets[s]:offsets[s + 1]].astype(float)
        np.testing.assert_array_equal(block.sum(axis=0), n)  # n draws per stratum and resample
        np.testing.assert_allclose(block.mean(axis=1), 1.0, atol=0.03)  # multinomial(n, 1/n)
        np.testing.assert_allclose(block.var(axis=1), 1 - 1 / n, atol=0.04)
    # independent strata: counts of different strata uncorrelated
    assert abs(np.corrcoef(c[0], c[5])[0, 1]) < 0.03


def test_dataset_level_counts() -> None:
    c = resample_counts_datasets(5, 4, 20_000, np.random.default_rng(0))
    np.testing.assert_array_equal(c.sum(axis=0), 20)
    per_stratum = c.reshape(4, 5, -1).sum(axis=1)  # multiples of 5: whole datasets drawn
    assert (per_stratum % 1 == 0).all() and per_stratum.max() > 5
    np.testing.assert_allclose(per_stratum.mean(axis=1), 5.0, atol=0.1)


def test_kernel_equals_trimmed_mean_of_the_drawn_values() -> None:
    """Given the same counts, the sort-free kernel gives scipy's trimmed mean of the resample."""
    rng = np.random.default_rng(0)
    for trial in range(25):
        n_strata = int(rng.integers(1, 8))
        strata = [np.round(rng.random(rng.integers(1, 7)) * 3, 2) for _ in range(n_strata)]  # ties
        groups = [sorted(rng.choice(n_strata, rng.integers(1, n_strata + 1), replace=False).tolist())
                  for _ in range(3)]
        reps, chunk = 60, 25
        got = bootstrap_groups(strata, groups, reps, np.random.default_rng(trial), chunk=chunk)
        replay = np.random.default_rng(trial)
        sizes = [len(s) for s in strata]
        counts = np.concatenate([resample_counts(sizes, min(chunk, reps - c0), replay)
                                 for c0 in range(0, reps, chunk)], axis=1)
        values = np.concatenate(strata)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        for gi, g in enumerate(groups):
            rows = np.concatenate([np.arange(offsets[s], offsets[s + 1]) for s in g])
            drawn = np.stack([np.sort(np.repeat(values[rows], counts[rows, j]))
                              for j in range(reps)])  # (reps, N) sorted resamples
            k = int(0.25 * drawn.shape[1])
            want = drawn[:, k:drawn.shape[1] - k].mean(axis=1)
            np.testing.assert_allclose(got[gi], want, atol=1e-6)
            assert want[0] == pytest.approx(trim_mean(drawn[0], 0.25))


def test_plan_skips_only_rows_whose_weight_is_fixed() -> None:
    # six separated strata of 2 (N = 12, k = 3): positions 0-1 can never hold more than k draws
    # and from position 9 on at least N - k draws lie at or below: the plan skips both ends
    values = np.arange(12) * 0.1 + np.repeat(np.arange(6), 2)
    strata = np.repeat(np.arange(6), 2)
    plan = TrimmedMeanPlan.build(values, np.arange(12), 0.25, strata)
    assert (plan.first, plan.stop) == (2, 9)
    from geobench.aggregate.resample import weighted_gaps

    counts = resample_counts([2] * 6, 200, np.random.default_rng(0))
    w = np.empty(200, dtype=np.float32)
    weighted_gaps(counts, plan, np.empty((11, 200), np.uint8), np.empty((11, 200), np.float32), w)
    out = np.empty(200)
    plan.finish(w, out)
    want = [trim_mean(np.repeat(values, counts[:, j]), 0.25) for j in range(200)]
    np.testing.assert_allclose(out, want, atol=1e-5)


def test_quantiles_equal_numpy() -> None:
    rng = np.random.default_rng(0)
    big = rng.normal(size=(7, 60_000))
    big[2] = np.round(big[2], 1)  # heavy ties
    small = rng.normal(size=(3, 1000))
    for d in (big, small):
        for qs in ([0.025, 0.975], [0.5], [0.0, 1.0], [0.1, 0.7]):
            np.testing.assert_array_equal(quantiles(d, qs), np.quantile(d, qs, axis=1).T)


# ---------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_matches_rliable() -> None:
    from rliable import library as rly
    from rliable import metrics

    rng = np.random.default_rng(3)
    arrays = {"a": _realistic(rng, seeds=5, datasets=4)}
    np.random.seed(0)
    points, cis = rly.get_interval_estimates(
        arrays, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=1000)
    ours = stats.bootstrap_many(arrays, 20_000, np.random.default_rng(0))
    for k in arrays:
        assert ours[k][0] == pytest.approx(points[k][0], abs=1e-12)
        assert ours[k][1] == pytest.approx(cis[k][0, 0], abs=0.005)
        assert ours[k][2] == pytest.approx(cis[k][1, 0], abs=0.005)
        assert ours[k][1] < ours[k][0] < ours[k][2]


def test_dataset_level_bootstrap_is_rliables_task_bootstrap() -> None:
    """unit="datasets" is rliable's task_bootstrap: each of D slots draws a dataset, then that
    dataset's seeds. Checked against a direct numpy replay of that scheme (lumpy distribution:
    5 datasets far apart) and against rliable itself on a smooth case."""
    from rliable import library as rly
    from rliable import metrics

    x = _realistic(np.random.default_rng(5), seeds=5, datasets=5)
    reps = 20_000
    r = np.random.default_rng(1)
    slots = r.integers(0, 5, size=(reps, 5))
    runs = r.integers(0, 5, size=(reps, 5, 5))
    direct = trim_mean(x[runs, slots[:, None, :]].reshape(reps, -1), 0.25, axis=1)
    ours = stats.bootstrap_distribution(x, reps, np.random.default_rng(0), unit="datasets")
    np.testing.assert_allclose(np.quantile(ours, [0.025, 0.5, 0.975]),
                               np.quantile(direct, [0.025, 0.5, 0.975]), atol=0.01)
    assert ours.std() == pytest.approx(direct.std(), rel=0.03)

    rng = np.random.default_rng(8)
    smooth = rng.uniform(0.45, 0.55, size=8)[None, :] + rng.normal(0, 0.02, size=(5, 8))
    np.random.seed(1)
    _, cis = rly.get_interval_estimates({"x": smooth}, lambda a: np.array([metrics.aggregate_iqm(a)]),
                                        reps=2000, task_bootstrap=True)
    _, lo, hi = stats.stratified_bootstrap_ci(smooth, 20_000, np.random.default_rng(0),
                                              unit="datasets")
    assert lo == pytest.approx(cis["x"][0, 0], abs=0.005)
    assert hi == pytest.approx(cis["x"][1, 0], abs=0.005)
    _, slo, shi = stats.stratified_bootstrap_ci(x, 20_000, np.random.default_rng(0))
    assert np.quantile(ours, 0.975) - np.quantile(ours, 0.025) > 3 * (shi - slo)


def test_bootstrap_is_seeded_and_mean_statistic() -> None:
    x = _realistic(np.random.default_rng(0))
    a = stats.stratified_bootstrap_ci(x, 500, np.random.default_rng(7))
    b = stats.stratified_bootstrap_ci(x, 500, np.random.default_rng(7))
    assert a == b
    p, lo, hi = stats.stratified_bootstrap_ci(x, 4000, np.random.default_rng(7), statistic="mean")
    assert p == pytest.approx(x.mean())
    assert lo < p < hi
    dist = stats.bootstrap_distribution(x, 4000, np.random.default_rng(1), statistic="mean")
    # s.d. of the stratified-bootstrap mean: sqrt(sum_d var_d / n) / D with var_d ddof=0
    want = np.sqrt((x.var(axis=0) / x.shape[0]).sum()) / x.shape[1]
    assert dist.std() == pytest.approx(want, rel=0.05)


def test_constant_scores_give_a_degenerate_interval() -> None:
    x = np.full((5, 3), 0.7)
    assert stats.stratified_bootstrap_ci(x, 100, np.random.default_rng(0)) == pytest.approx(
        (0.7, 0.7, 0.7))


@pytest.mark.parametrize("scores, msg", [
    (np.ones(5), "2-D"),
    (np.ones((5, 2, 2)), "2-D"),
    (np.ones((0, 3)), "empty"),
    (np.array([[1.0, np.nan]]), "NaN"),
    (np.array([["a", "b"]]), "numbers"),
])
def test_bootstrap_rejects_bad_scores(scores: np.ndarray, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        stats.stratified_bootstrap_ci(scores, 10, np.random.default_rng(0))


def test_bootstrap_rejects_bad_arguments() -> None:
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match="reps"):
        stats.stratified_bootstrap_ci(x, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        stats.stratified_bootstrap_ci(x, 10, np.random.RandomState(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ci"):
        stats.stratified_bootstrap_ci(x, 10, np.random.default_rng(0), ci=1.5)
    with pytest.raises(ValueError, match="statistic"):
        stats.stratified_bootstrap_ci(x, 10, np.random.default_rng(0), statistic="median")
    with pytest.raises(ValueError, match="unit"):
        stats.bootstrap_distribution(x, 10, np.random.default_rng(0), unit="runs")


def test_models_must_share_datasets() -> None:
    with pytest.raises(ValueError, match="same datasets"):
        stats.poi_matrix({"a": np.ones((3, 2)), "b": np.ones((3, 4))}, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="non-empty"):
        stats.rank_distribution({}, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="same datasets"):
        stats.probability_of_improvement(np.ones((3, 2)), np.ones((3, 3)))


# ---------------------------------------------------------------------------- comparisons


def test_poi_matrix_points_and_intervals() -> None:
    """Points equal rliable's; intervals equal a direct numpy replay of rliable's
    StratifiedIndependentBootstrap (each model's seeds resampled within each dataset)."""
    from rliable import metrics

    rng = np.random.default_rng(2)
    base = _realistic(rng, seeds=5, datasets=4)
    arrays = {"a": base + 0.01, "b": base + rng.normal(0, 0.02, base.shape), "c": base - 0.2}
    reps = 4000
    names, point, low, high = stats.poi_matrix(arrays, reps, np.random.default_rng(0))
    assert names == ["a", "b", "c"]
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            want = 0.5 if i == j else metrics.probability_of_improvement(arrays[a], arrays[b])
            assert point[i, j] == pytest.approx(want)
            assert low[i, j] <= point[i, j] + 1e-12 and point[i, j] <= high[i, j] + 1e-12
    np.testing.assert_allclose(point + point.T, 1.0)  # P(X>Y) + P(Y>X) with half ties = 1
    assert point[0, 2] == 1.0 and point[2, 0] == 0.0  # c is far below a on every dataset
    r = np.random.default_rng(9)
    xa, xb = arrays["a"], arrays["b"]
    ra = np.take_along_axis(xa[None], r.integers(0, 5, size=(reps, 5, 4)), axis=1)
    rb = np.take_along_axis(xb[None], r.integers(0, 5, size=(reps, 5, 4)), axis=1)
    gt = (ra[:, :, None, :] > rb[:, None, :, :]).mean(axis=(1, 2))
    eq = (ra[:, :, None, :] == rb[:, None, :, :]).mean(axis=(1, 2))
    direct = np.quantile((gt + 0.5 * eq).mean(axis=1), [0.025, 0.975])
    assert low[0, 1] == pytest.approx(direct[0], abs=0.03)
    assert high[0, 1] == pytest.approx(direct[1], abs=0.03)


def test_performance_profile_band() -> None:
    x = _realistic(np.random.default_rng(4))
    taus = np.linspace(0, 1, 11)
    prof, lo, hi = stats.performance_profile_ci(x, taus, 2000, np.random.default_rng(0))
    np.testing.assert_allclose(prof, stats.performance_profile(x, taus))
    assert (lo <= prof + 1e-12).all() and (prof <= hi + 1e-12).all()
    assert np.all(np.diff(prof) <= 0)  # fraction above tau falls with tau
    assert prof[0] == 1.0 and prof[-1] == 0.0


def test_rank_distribution() -> None:
    rng = np.random.default_rng(6)
    base = _realistic(rng)
    arrays = {"low": base - 0.3, "mid_a": base + rng.normal(0, 0.02, base.shape),
              "mid_b": base + rng.normal(0, 0.02, base.shape), "high": base + 0.3}
    names, probs = stats.rank_distribution(arrays, 2000, np.random.default_rng(0))
    assert names == list(arrays)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert probs[names.index("high"), 0] == 1.0
    assert probs[names.index("low"), 3] == 1.0
    mids = probs[[names.index("mid_a"), names.index("mid_b")]][:, 1:3]
    assert mids.sum() == pytest.approx(2.0) and 0.0 < mids[0, 0] < 1.0  # the two swap places
