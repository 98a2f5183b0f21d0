"""The seed-aware intervals against exact distributions, a closed-form variance and SciPy's Welch test."""
import numpy as np
import pytest
from scipy import stats

from srsupm_lab.analysis.seed_uncertainty import (seed_uncertainty, seed_user_bootstrap,
                                                   seed_user_bootstrap_values, welch_seed_interval)


def test_seeds_only_matches_the_enumerated_distribution_of_resampled_seed_means():
    """Every user alike within a run: only the seeds vary. A has runs worth .2 and .4, B one run worth .5.

    Resampling A's two seeds gives a mean of .2 (1/4), .3 (1/2) or .4 (1/4), so the gain is .3, .2 or .1
    with those probabilities; its 2.5 % and 97.5 % quantiles are .1 and .3 exactly."""
    U = 50
    a = {"m": np.stack([np.full(U, 0.2), np.full(U, 0.4)])}
    b = {"m": np.full((1, U), 0.5)}
    row = seed_user_bootstrap_values(a, b, n_boot=8000, seed=3).iloc[0]
    assert row["gain"] == pytest.approx(0.2)
    assert row["seed_user_ci_low"] == pytest.approx(0.1) and row["seed_user_ci_high"] == pytest.approx(0.3)
    assert row["seed_user_p_value"] == 0.0                       # every resampled gain is positive


def test_seeds_only_p_value_is_the_enumerated_tail_mass():
    """B shifted so the resampled gains straddle zero: the p-value is twice the exact tail mass, 1/4."""
    U = 10
    a = {"m": np.stack([np.full(U, 0.2), np.full(U, 0.4)])}
    b = {"m": np.full((1, U), 0.5)}
    # B - .15: gains .15 (1/4), .05 (1/2), -.05 (1/4); the gain .05 > 0 and P(g* <= 0) = 1/4
    up = seed_user_bootstrap_values(a, {"m": b["m"] - 0.15}, n_boot=8000, seed=1).iloc[0]
    # B - .25: gains .05 (1/4), -.05 (1/2), -.15 (1/4); the gain -.05 < 0 and P(g* >= 0) = 1/4
    down = seed_user_bootstrap_values(a, {"m": b["m"] - 0.25}, n_boot=8000, seed=1).iloc[0]
    assert up["seed_user_p_value"] == pytest.approx(0.5, abs=0.04)
    assert down["seed_user_p_value"] == pytest.approx(0.5, abs=0.04)


def test_users_only_has_the_bootstrap_variance_of_a_mean():
    """Identical runs on each side: only users vary, and the resampled gain's variance is var_pop(d) / U."""
    rng = np.random.default_rng(0)
    U = 400
    ra = rng.integers(0, 40, U)
    rb = rng.integers(0, 40, U)
    a = np.stack([ra] * 3)
    b = np.stack([rb] * 2)
    d = (rb < 10).astype(float) - (ra < 10).astype(float)
    row = seed_user_bootstrap(a, b, ks=(10,), n_boot=6000, seed=0).set_index("metric").loc["recall@10"]
    sd_expected = np.sqrt(d.var() / U)
    width = row["seed_user_ci_high"] - row["seed_user_ci_low"]
    assert width == pytest.approx(2 * stats.norm.ppf(0.975) * sd_expected, rel=0.08)
    assert row["gain"] == pytest.approx(d.mean())


def test_seed_spread_widens_the_interval():
    """The same mean gain, with and without disagreement between B's seeds: the interval must widen."""
    rng = np.random.default_rng(1)
    U = 300
    a = np.stack([rng.integers(0, 30, U) for _ in range(2)])
    steady = np.stack([rng.integers(0, 30, U)] * 2)
    spread = steady.copy()
    spread[0] = np.where(rng.random(U) < 0.3, 0, spread[0])            # seed 1 much better ...
    spread[1] = np.where(rng.random(U) < 0.3, 29, spread[1])           # ... seed 2 much worse
    w_steady = seed_user_bootstrap(a, steady, ks=(10,), seed=0).iloc[0]
    w_spread = seed_user_bootstrap(a, spread, ks=(10,), seed=0).iloc[0]
    assert (w_spread["seed_user_ci_high"] - w_spread["seed_user_ci_low"]) > \
        1.3 * (w_steady["seed_user_ci_high"] - w_steady["seed_user_ci_low"])


def test_welch_matches_scipy():
    a, b = [0.0940, 0.0935, 0.0925], [0.0918, 0.0900]
    out = welch_seed_interval(a, b)
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert out["welch_p_value"] == pytest.approx(ref.pvalue, rel=1e-10)
    ci = ref.confidence_interval(0.95)
    assert out["welch_ci_low"] == pytest.approx(ci.low, rel=1e-10)
    assert out["welch_ci_high"] == pytest.approx(ci.high, rel=1e-10)
    assert out["seed_sd_a"] == pytest.approx(np.std(a, ddof=1))


def test_welch_needs_two_seeds_a_side():
    out = welch_seed_interval([0.09], [0.1, 0.11])
    assert np.isnan(out["welch_ci_low"]) and np.isnan(out["welch_p_value"]) and np.isnan(out["seed_sd_a"])


def test_seed_uncertainty_joins_both_answers():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 50, (2, 100))
    b = rng.integers(0, 50, (3, 100))
    table = seed_uncertainty(a, b, ks=(10, 20), n_boot=200)
    assert list(table["metric"]) == ["recall@10", "recall@20", "ndcg@10", "ndcg@20"]
    r10a = (a < 10).mean(axis=1)
    r10b = (b < 10).mean(axis=1)
    ref = stats.ttest_ind(r10b, r10a, equal_var=False)
    assert table.loc[0, "welch_p_value"] == pytest.approx(ref.pvalue)
    assert table.loc[0, "gain"] == pytest.approx(r10b.mean() - r10a.mean())


@pytest.mark.parametrize("bad, message", [
    (np.zeros(5, dtype=int), "2-D array"),
    (np.full((2, 5), -1), "0-based"),
    (np.zeros((2, 5)), "integer ranks"),
])
def test_bad_ranks_get_one_line(bad, message):
    with pytest.raises(ValueError, match=message) as err:
        seed_user_bootstrap(bad, np.zeros((2, 5), dtype=int))
    assert "\n" not in str(err.value)


def test_users_must_match_and_n_boot_positive():
    with pytest.raises(ValueError, match="same users"):
        seed_user_bootstrap(np.zeros((2, 5), dtype=int), np.zeros((2, 6), dtype=int))
    with pytest.raises(ValueError, match="n_boot"):
        seed_user_bootstrap(np.zeros((2, 5), dtype=int), np.zeros((2, 5), dtype=int), n_boot=0)
