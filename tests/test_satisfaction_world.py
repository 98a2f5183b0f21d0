"""The clickbait world (srsupm_lab/data/satisfaction_world.py): its story measured on the generated data against the
stated parameters (least squares with its standard errors, hand-built tables, brute-force step look-ups)."""
import numpy as np
import pytest
import torch

from srsupm_lab.config import TrainConfig
from srsupm_lab.data import KNOWN_DATASETS, leave_one_out, load_dataset
from srsupm_lab.data.satisfaction_world import CLICKBAIT_DEFAULTS, make_clickbait_world, window_satisfaction
from srsupm_lab.data.windows import target_steps

SMALL = {"n_users": 120, "n_items": 60, "n_labels": 8, "n_motivations": 3, "cats_per_motivation": 2}


@pytest.fixture(scope="module")
def big():
    return make_clickbait_world(n_users=3000, seed=5)


def _flat(ds):
    m = ds.meta
    steps = np.concatenate([np.arange(len(s)) for s in ds.sequences])
    lens = np.concatenate([np.full(len(s), len(s)) for s in ds.sequences])
    return (np.concatenate(ds.sequences), np.concatenate(m["satisfaction"]), np.concatenate(m["motivation"]),
            np.concatenate(m["switch"]), steps, lens)


def _ols(x, y):
    """Intercept, slope and their standard errors of y ~ a + b x (the textbook formulas, float64)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n, xm = len(x), x.mean()
    sxx = ((x - xm) ** 2).sum()
    b = ((x - xm) * (y - y.mean())).sum() / sxx
    a = y.mean() - b * xm
    s2 = ((y - a - b * x) ** 2).sum() / (n - 2)
    return a, b, np.sqrt(s2 * (1 / n + xm ** 2 / sxx)), np.sqrt(s2 / sxx)


def test_the_same_seed_gives_the_same_world_and_another_seed_another():
    a, b, c = (make_clickbait_world(**SMALL, seed=s) for s in (3, 3, 4))
    assert all(np.array_equal(x, y) for x, y in zip(a.sequences, b.sequences))
    assert all(np.array_equal(x, y) for x, y in zip(a.meta["satisfaction"], b.meta["satisfaction"]))
    assert np.array_equal(a.meta["satisfaction_table"], b.meta["satisfaction_table"])
    assert not all(len(x) == len(y) and np.array_equal(x, y) for x, y in zip(a.sequences, c.sequences))


def test_the_contract_names_shapes_and_the_table_built_by_hand():
    p = {**CLICKBAIT_DEFAULTS, **SMALL, "seed": 2}
    ds = make_clickbait_world(**SMALL, seed=2)
    m, n = ds.meta, ds.n_items
    assert ds.name == "synthetic-clickbait" and ds.n_users == 120 and n == 60
    for key in ("satisfaction", "motivation", "switch"):
        assert len(m[key]) == ds.n_users and all(len(x) == len(s) for x, s in zip(m[key], ds.sequences))
    assert all(x.dtype == np.float64 and ((x >= 0) & (x <= 1)).all() for x in m["satisfaction"])
    cb = m["clickbait"]
    assert cb.dtype == bool and cb.shape == (n + 1,) and not cb[0] and cb.sum() == round(0.1 * n)
    table = m["satisfaction_table"]
    assert table.shape == (3, n + 1) and (table[:, 0] == 0).all()
    q = p["quality"]
    for mo in range(3):                                                 # the story's table, entry by entry
        for i in range(1, n + 1):
            fits = m["motivation_categories"][mo, m["primary_category"][i]] > 0
            base = p["s_bait"] if cb[i] else (p["s_fit"] if fits else p["s_off"])
            assert base - q - 1e-12 <= table[mo, i] <= base + q + 1e-12
    assert all(m["primary_category"][i] in ds.item_labels[i] for i in range(1, n + 1))
    for mot, sw in zip(m["motivation"], m["switch"]):                  # a switch always changes the motivation
        assert not sw[0] and np.array_equal(sw[1:], mot[1:] != mot[:-1])
    assert all(p["min_len"] <= len(s) <= p["max_len"] for s in ds.sequences)


def test_realised_satisfaction_averages_to_the_table(big):
    items, sat, mot, _, _, _ = _flat(big)
    resid = sat - big.meta["satisfaction_table"][mot, items]
    assert abs(resid.mean()) < 4 * resid.std() / np.sqrt(resid.size)


def test_clickbait_is_clicked_more_than_without_its_lure_and_satisfies_less(big):
    plain = make_clickbait_world(n_users=3000, seed=5, lure=1.0)        # the same items and clickbait flags
    cb = big.meta["clickbait"]
    assert np.array_equal(cb, plain.meta["clickbait"])
    assert np.array_equal(big.meta["satisfaction_table"], plain.meta["satisfaction_table"])
    lured = np.bincount(np.concatenate(big.sequences), minlength=big.n_items + 1)
    unlured = np.bincount(np.concatenate(plain.sequences), minlength=big.n_items + 1)
    share, base_share = lured[cb].sum() / lured.sum(), unlured[cb].sum() / unlured.sum()
    assert share > 1.5 * base_share
    normal = ~cb
    normal[0] = False                                                    # normal items lose share to the lure
    assert lured[normal].sum() / lured.sum() < unlured[normal].sum() / unlured.sum()
    items, sat, _, _, _, _ = _flat(big)
    is_cb = cb[items]
    assert sat[is_cb].mean() == pytest.approx(CLICKBAIT_DEFAULTS["s_bait"], abs=0.02)
    assert sat[is_cb].mean() < sat[~is_cb].mean() - 0.5


def test_sessions_end_earlier_and_switch_more_after_low_satisfaction_as_stated(big):
    p = CLICKBAIT_DEFAULTS
    items, sat, mot, switch, steps, lens = _flat(big)
    eligible = (steps >= p["min_len"] - 1) & (steps < p["max_len"] - 1)
    stopped = steps == lens - 1
    a, b, sa, sb = _ols(1 - sat[eligible], stopped[eligible])
    assert abs(a - p["stop_base"]) < 4 * sa and abs(b - p["stop_gain"]) < 4 * sb and b > 0.25
    low = eligible & (sat < 0.3)
    high = eligible & (sat > 0.7)
    assert stopped[low].mean() > stopped[high].mean() + 0.2
    has_next = steps < lens - 1                                          # the switch before the next step
    nxt = np.flatnonzero(has_next) + 1
    a, b, sa, sb = _ols(1 - sat[has_next], switch[nxt])
    assert abs(a - p["switch_rate"]) < 4 * sa and abs(b - p["switch_gain"]) < 4 * sb


@pytest.mark.parametrize("bad, word", [({"clickbait_share": 1.5}, "clickbait_share"), ({"lure": 0.5}, "lure"),
                                       ({"n_users": 0}, "n_users"), ({"s_bait": 0.5}, "s_bait"),
                                       ({"stop_gain": 0.99}, "stop_base + stop_gain"), ({"min_len": 2}, "min_len"),
                                       ({"concentration": 0.0}, "concentration"), ({"habit": "x"}, "habit"),
                                       ({"n_items": 4}, "n_items"), ({"max_len": 4}, "max_len")])
def test_bad_parameters_are_one_line_errors_naming_them(bad, word):
    with pytest.raises(ValueError) as err:
        make_clickbait_world(**{**SMALL, **bad})
    assert word in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(TypeError, match="unknown option.*'colour'"):
        make_clickbait_world(colour=1)


def test_window_truth_matches_a_brute_force_look_up_and_refuses_shuffled_windows():
    ds = make_clickbait_world(**SMALL, seed=7)
    split = leave_one_out(ds, max_len=4)
    for part, back in ((split.train, None), (split.valid, 2), (split.test, 1)):
        truth = window_satisfaction(ds, part)
        users = part.users.tolist()
        for w in range(len(part)):                                       # the loop lives in the test
            u, seq = users[w], ds.sequences[users[w]]
            t = users[:w].count(u) + 1 if back is None else len(seq) - back
            inputs = [x for x in part.inputs[w].tolist() if x]
            assert seq[t] == part.targets[w] and list(seq[max(0, t - 4):t]) == inputs
            assert int(truth["step"][w]) == t
            assert float(truth["satisfaction"][w]) == ds.meta["satisfaction"][u][t]
            assert int(truth["motivation"][w]) == ds.meta["motivation"][u][t]
            assert bool(truth["clickbait"][w]) == ds.meta["clickbait"][seq[t]]
    steps = target_steps(split.train, ds)
    first = np.flatnonzero(np.r_[True, split.train.users[1:].numpy() != split.train.users[:-1].numpy()])
    assert (steps[first] == 1).all()
    with pytest.raises(ValueError, match="target_steps: window 0 .*leave_one_out"):
        target_steps(split.train.subset(torch.arange(1, len(split.train))), ds)
    with pytest.raises(ValueError, match="records no true satisfaction"):
        window_satisfaction(load_dataset("synthetic", n_users=20, n_items=30), split.train)


def test_it_is_a_known_dataset_with_options_texts_and_a_command_line_run(tmp_path):
    from srsupm_lab.__main__ import main
    from srsupm_lab.data.item_text import dataset_item_texts
    assert "synthetic-clickbait" in KNOWN_DATASETS
    ds = load_dataset("synthetic-clickbait", **SMALL)
    assert ds.meta["params"]["n_users"] == 120
    texts = dataset_item_texts(ds, "synthetic-clickbait")
    assert len(texts) == ds.n_items + 1 and texts[0] == "" and all(texts[1:])
    assert TrainConfig(dataset="synthetic-clickbait", dataset_options=SMALL).dataset == "synthetic-clickbait"
    argv = ["train", "--dataset", "synthetic-clickbait", "--backbone", "gru4rec", "--dim", "8", "--max-len", "6",
            "--epochs", "1", "--device", "cpu", "--no-progress", "--out", str(tmp_path / "run")] + \
           [x for k, v in SMALL.items() for x in ("--dataset-option", f"{k}={v}")]
    assert main(argv) == 0 and (tmp_path / "run" / "results.json").exists()
