"""The lessons' checkers and demonstrations against independent references and the library's defaults.

* Lesson 2's influence map against a brute-force mask: each input position perturbed on its own,
  one encoder call at a time, and the expected masks written by hand (causal: on and above the
  diagonal; bidirectional: everywhere).
* Lesson 4's checkers against an ``SRSUPM`` built with today's defaults: the model's own α, mixed
  score and L_reg are accepted, and they equal a float64 recomputation from the model's weights.
* Exercise 6.2's interval checker accepts a 95 % bootstrap interval and rejects 68/80/90/99 % ones.
"""
import importlib.util
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
import torch

import srsupm_lab as sl
from srsupm_lab.course import checks
from srsupm_lab.course.influence import influence_map, is_causal, reads_both_ways

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("tutorial_references", ROOT / "tutorials" / "solutions" / "references.py")
refs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refs)

N_ITEMS, L, D = 60, 8, 16


def _encoder(name):
    torch.manual_seed(0)
    extra = {} if name == "gru4rec" else {"n_layers": 1}
    return sl.build_backbone(name, N_ITEMS, dim=D, max_len=L, **extra).eval()


def _brute_force_mask(encoder, window):
    """influence[j, t] by perturbing input j alone and comparing every output t, one call per j."""
    with torch.no_grad():
        base = encoder.sequence_output(window)[0]                      # (L, d)
        mask = np.zeros((L, L), dtype=bool)
        for j in range(L):
            other = window.clone()
            other[0, j] = 1 if int(window[0, j]) == N_ITEMS else int(window[0, j]) + 1
            out = encoder.sequence_output(other)[0]
            for t in range(L):
                mask[j, t] = bool((out[t] - base[t]).abs().max() > 1e-6)
    return mask


CAUSAL = np.array([[t >= j for t in range(L)] for j in range(L)])      # row j (changed input), column t (output)
BOTH_WAYS = np.ones((L, L), dtype=bool)


@pytest.mark.parametrize("name,expected,causal", [("sasrec", CAUSAL, True), ("gru4rec", CAUSAL, True),
                                                  ("bert4rec", BOTH_WAYS, False)])
def test_the_influence_map_is_the_brute_force_mask(name, expected, causal):
    encoder = _encoder(name)
    window = torch.randint(1, N_ITEMS + 1, (1, L), generator=torch.Generator().manual_seed(1))
    brute = _brute_force_mask(encoder, window)
    assert (brute == expected).all(), f"{name}: the encoder's wiring is not what lesson 2 teaches"
    assert (influence_map(encoder, window, N_ITEMS) == brute).all()
    assert is_causal(brute) is causal
    assert reads_both_ways(brute) is (not causal)


def test_the_causal_verdict_reads_rows_as_inputs():
    """The transpose of a causal map (influence below the diagonal) is not causal: rows are inputs j."""
    assert is_causal(CAUSAL) and not is_causal(CAUSAL.T)
    assert not is_causal(BOTH_WAYS) and not is_causal(np.eye(L, dtype=bool))


@pytest.fixture(scope="module")
def srsupm():
    """An SRSUPM with today's defaults on the synthetic world, untrained, in eval mode."""
    ds = sl.load_dataset("synthetic")
    split = sl.leave_one_out(ds, max_len=L)
    torch.manual_seed(0)
    model = sl.SRSUPM(sl.build_backbone("sasrec", ds.n_items, dim=D, max_len=L, n_layers=1), K=5).eval()
    x, users, targets = split.test.inputs[:4], split.test.users[:4], split.test.targets[:4]
    with torch.no_grad():
        Z = model.shift_representations(x, users).double()             # (4, K, d)
        E = model.backbone.item_table().double()                       # (N+1, d)
        alpha = model.shift_distribution(x, users, targets).double()   # (4, K)
        scores = model.score(x, users).double()                        # (4, N+1)
    return model, Z, E, targets, alpha, scores


def test_the_lessons_defaults_are_the_models(srsupm):
    """The lessons teach SRSUPM's defaults: scale 1 for α and β, the normalised mean form of L_reg."""
    model = srsupm[0]
    assert model.temperatures.scales() == {"alpha": refs.LEVEL_SCALE, "beta": refs.LEVEL_SCALE}
    assert model.reg_form == refs.REG_FORM


def test_the_checkers_accept_the_models_own_values(srsupm, capsys):
    model, Z, E, targets, alpha, scores = srsupm
    for u in range(Z.shape[0]):
        by_hand = refs.alpha(Z[u], E[targets[u]])                       # float64 from the model's weights
        assert np.allclose(alpha[u].numpy(), by_hand, atol=1e-5)
        assert checks.check_alpha(alpha[u], Z[u], E[targets[u]], scale=model.temperatures.alpha) is True
        for item in (1, 7, 42):
            mixture = refs.mixed_score(Z[u], E[item])
            assert abs(float(scores[u, item]) - mixture) < 1e-4 * max(1.0, abs(mixture))
            assert checks.check_mixed_score(scores[u, item], Z[u], E[item], scale=model.temperatures.beta) is True
        from srsupm_lab.methods.srsupm.pmsid import consistency_regulariser
        trained_form = float(consistency_regulariser(Z[u:u + 1], model.reg_form))
        assert abs(trained_form - refs.reg(Z[u])) < 1e-9
        assert checks.check_reg(trained_form, Z[u], form=model.reg_form) is True
    assert "✗" not in capsys.readouterr().out


def _bootstrap(values, level, seed, n_boot=1000):
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (n_boot, len(values)))].mean(axis=1)
    return tuple(np.percentile(means, [50 * (1 - level), 50 * (1 + level)]))


def _normal(values, level):
    se = values.std(ddof=1) / np.sqrt(len(values))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return values.mean() - z * se, values.mean() + z * se


@pytest.fixture(scope="module")
def per_user():
    return (np.random.default_rng(0).random(1000) < 0.45).astype(float)      # a Recall@10 of about .45


@pytest.mark.parametrize("seed", range(5))
def test_a_95_percent_bootstrap_interval_passes(per_user, seed, capsys):
    assert checks.check_interval(_bootstrap(per_user, 0.95, seed), per_user, level=0.95) is True
    assert checks.check_interval(_normal(per_user, 0.95), per_user, level=0.95) is True


@pytest.mark.parametrize("level", [0.68, 0.80, 0.90, 0.99])
@pytest.mark.parametrize("how", ["bootstrap", "normal"])
def test_an_interval_at_another_level_fails(per_user, level, how, capsys):
    answer = _bootstrap(per_user, level, seed=0) if how == "bootstrap" else _normal(per_user, level)
    assert checks.check_interval(answer, per_user, level=0.95) is False
    out = capsys.readouterr().out
    assert out.startswith("✗") and "Hint:" in out and "95 %" in out, out
