"""The lesson checkers (srsupm_lab/course/checks.py): right answers pass, a wrong one gets ONE line with
a hint and never the expected value, teachers see the value with SRSUPM_TEACHER=1, and the package
values the checkers use agree with the hand-written references kept with the solutions."""
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from srsupm_lab.course import checks

ROOT = Path(__file__).resolve().parents[1]


def _module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


refs = _module("tutorial_references", ROOT / "tutorials" / "solutions" / "references.py")


@pytest.fixture(autouse=True)
def student(monkeypatch):
    monkeypatch.delenv("SRSUPM_TEACHER", raising=False)


def _cases(seed):
    """(checker, inputs, reference, a wrong answer, a phrase its hint must hold), random inputs."""
    rng = np.random.default_rng(seed)
    N, d = 40, 6
    scores = rng.normal(size=N + 1)
    history = rng.choice(np.arange(1, N + 1), 8, replace=False)
    target = int(rng.integers(1, N + 1))
    scores[history[0]] = scores[target]                               # a tie, and it is in the history
    ranks = rng.integers(0, 30, 50)
    ranks_b = rng.integers(0, 30, 50)
    Z, e = rng.normal(size=(5, d)), rng.normal(size=d)
    window = [frozenset(rng.choice(9, rng.integers(1, 4), replace=False).tolist()) for _ in range(6)]
    tgt_labels = frozenset(rng.choice(9, 3, replace=False).tolist())
    values = [0.0, 1.0, *rng.random(5).round(3).tolist()]
    flags = rng.random(200) < 0.37
    targets, levels = rng.integers(1, 6, 300), rng.integers(0, 4, 300)
    conf = rng.random(7) + 0.1
    A, P = rng.normal(size=(6, d)), rng.normal(size=(6, d))
    seq = rng.integers(1, 50, int(rng.integers(3, 25)))
    per_user = (rng.random(400) < 0.3).astype(float)
    cases = [
        (checks.check_training_windows, (seq,), refs.training_windows(seq), len(seq), "held out"),
        (checks.check_rank, (scores, target, history), refs.rank(scores, target, history),
         refs.rank(scores, target, []), "history"),
        (checks.check_ndcg, (ranks, 10), refs.ndcg(ranks, 10), refs.recall_from_ranks(ranks, 10), "Recall"),
        (checks.check_causal_positions, (7, 20), refs.causal_positions(7, 20), set(range(0, 20)), "earlier"),
        (checks.check_gru4rec_parameters, (N, d, 2 * d), refs.gru4rec_parameters(N, d, 2 * d),
         refs.gru4rec_parameters(N, d, 2 * d) + 6 * 2 * d, "no bias"),
        (checks.check_dot_score, (torch.tensor(Z[0]), torch.tensor(e)), refs.dot_score(Z[0], e),
         refs.dot_score(Z[0], e) / np.linalg.norm(Z[0]) / np.linalg.norm(e), "cosine"),
        (checks.check_pmsd, (window, tgt_labels), refs.pmsd(window, tgt_labels),
         1 - refs.pmsd(window, tgt_labels), "one minus"),
        (checks.check_levels, (values, 6), refs.levels(values, 6), [1, 4, *refs.levels(values, 6)[2:]], "exact"),
        (checks.check_share, (flags,), refs.share(flags), int(flags.sum()), "[0, 1]"),
        (checks.check_share, (flags[:120], flags[60:]), refs.share(flags[:120]), refs.share(flags[60:]),
         "other way round"),
        (checks.check_alpha, (torch.tensor(Z), torch.tensor(e), refs.LEVEL_SCALE), refs.alpha(Z, e),
         refs.alpha(Z, e, scale=1 / np.sqrt(d)), "√d"),
        (checks.check_alpha, (Z, e, 1 / np.sqrt(d)), refs.alpha(Z, e, scale=1 / np.sqrt(d)), refs.alpha(Z, e),
         "scale the logits"),
        (checks.check_mixed_score, (Z, e, refs.LEVEL_SCALE), refs.mixed_score(Z, e),
         refs.mixed_score(Z, e, scale=1 / np.sqrt(d)), "√d"),
        (checks.check_mixed_score, (Z, e, refs.LEVEL_SCALE), refs.mixed_score(Z, e), float((Z @ e).mean()),
         "mean pooling"),
        (checks.check_reg, (Z, refs.REG_FORM), refs.reg(Z), refs.reg(Z, form="raw_mean"), "unit length"),
        (checks.check_reg, (Z, refs.REG_FORM), refs.reg(Z), refs.reg(Z) * 4, "average"),
        (checks.check_reg, (Z, "raw_mean"), refs.reg(Z, form="raw_mean"), refs.reg(Z, form="raw_sum"), "average"),
        (checks.check_group_size, (targets, levels, 17), refs.group_size(targets, levels, 17),
         refs.group_size(targets, levels, 17) + 1, "OTHER"),
        (checks.check_sampling_probabilities, (conf, 0), refs.sampling_probabilities(conf, 0),
         (conf / conf.sum()).tolist(), "never its own partner"),
        (checks.check_info_nce, (A, P, 0.5), refs.info_nce(A, P, 0.5), refs.info_nce(A, P, 0.5) * 6, "average"),
        (checks.check_match_probability, (A, P, 0.5, 2), refs.match_probability(A, P, 0.5, 2),
         refs.match_probability(A, P, 1.0, 2), "temperature"),
        (checks.check_recall_from_ranks, (ranks, 10), refs.recall_from_ranks(ranks, 10),
         float((ranks <= 10).mean()), "0-based"),
        (checks.check_interval, (per_user, 0.95), refs.interval(per_user, 0.95),
         (per_user.mean() - 0.001, per_user.mean() + 0.001), "narrower"),
        (checks.check_paired_difference, (ranks, ranks_b, 10), refs.paired_difference(ranks, ranks_b, 10),
         -refs.paired_difference(ranks, ranks_b, 10), "order"),
        (checks.check_discordant_share, (ranks, ranks_b, 10), refs.discordant_share(ranks, ranks_b, 10),
         abs(refs.paired_difference(ranks, ranks_b, 10)), "net difference"),
    ]
    return cases + _cases_07_08(rng)


def _cases_07_08(rng):
    """Lessons 7 (mental reward) and 8 (motivation profiles), same layout as ``_cases``."""
    q_table = 2 * rng.normal(size=(5, 2))
    q_taken, q_next = rng.normal(size=6), rng.normal(size=(6, 2))
    terminal = np.array([False, True, False, False, True, False])
    no_mask = [q - 0.9 * np.logaddexp(*row) for q, row in zip(q_taken, q_next)]
    atoms, y = np.sort(rng.normal(size=5)), float(rng.normal())
    j = np.arange(1, 6)
    levels_j_over_n = float(sum((y - a) * (t - (y - a < 0)) for a, t in zip(atoms, j / 5)))
    words = ["travel", "fitness", "cooking", "gaming", "category", "03", "11", "of", "Music"]
    corpus = [" ".join(rng.choice(words, int(rng.integers(2, 7)))) for _ in range(30)]
    corpus[7] = "category 03 travel category 11 travel gaming"                  # a repeated term
    df = sum("travel" in refs._terms(t) for t in corpus)
    raw = 2 * (np.log(31 / (1 + df)) + 1)                                       # tf·idf before normalising
    n_items = 30
    traits = rng.normal(size=(n_items + 1, 4))
    traits[0] = 0.0
    masses = rng.random(n_items + 1) + 0.1
    window, item = rng.choice(np.arange(1, n_items + 1), 4, replace=False), int(rng.integers(1, n_items + 1))
    uniform = refs.compatibility(window, traits, masses, item, 1.0)
    seq = rng.integers(1, 50, 15)
    return [
        (checks.check_soft_values, (q_table,), refs.soft_values(q_table), q_table.max(axis=1), "max"),
        (checks.check_rewards, (q_taken, q_next, terminal, 0.9), refs.rewards(q_taken, q_next, terminal, 0.9),
         no_mask, "terminal"),
        (checks.check_pinball_sum, (atoms, y), refs.pinball_sum(atoms, y), levels_j_over_n, "midpoints"),
        (checks.check_tfidf_weight, (corpus, 7, "travel"), refs.tfidf_weight(corpus, 7, "travel"), raw,
         "L2-normalised"),
        (checks.check_compatibility, (window, traits, masses, item, 0.8),
         refs.compatibility(window, traits, masses, item, 0.8), uniform, "recency"),
        (checks.check_first_items_window, (seq, 3, 10), refs.first_items_window(seq, 3, 10),
         [0] * 7 + seq[-4:-1].tolist(), "FIRST"),
    ]


def _renderings(value) -> list[str]:
    """The ways a message could show ``value``: numbers at 3-6 decimals, ints as words, lists."""
    if isinstance(value, (set, frozenset)):
        value = sorted(value)
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _renderings(v)] if len(value) > 1 else _renderings(value[0])
    v = float(value)
    if v.is_integer() and abs(v) >= 10:
        return [rf"(?<![\d.]){int(v)}(?![\d.])"]
    if v.is_integer():
        return []                                                      # small ints: too common to scan for
    return [re.escape(f"{v:.{n}f}") for n in (3, 4, 5, 6)]


IDS = [f"{c[0].__name__}-{i}" for i, c in enumerate(_cases(0))]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_the_reference_answer_passes(index, seed, capsys):
    """The package value each checker uses agrees with the hand-written reference (random inputs)."""
    checker, inputs, reference, _, _ = _cases(seed)[index]
    assert checker(reference, *inputs) is True
    assert capsys.readouterr().out.startswith("correct"), checker.__name__


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_a_wrong_answer_gets_one_line_with_a_hint_not_the_value(index, monkeypatch, capsys):
    # seed 4: inputs where every slip differs from the right value (with seed 3 PMSD is 0.5 = 1 − PMSD)
    checker, inputs, reference, wrong, phrase = _cases(4)[index]
    assert not np.array_equal(np.asarray(sorted(wrong) if isinstance(wrong, set) else wrong, dtype=float),
                              np.asarray(sorted(reference) if isinstance(reference, set) else reference, dtype=float))
    assert checker(wrong, *inputs) is False                          # no exception: the hint is the output
    message = capsys.readouterr().out
    assert message.count("\n") == 1 and message.startswith(checks.WRONG_MARK + " "), message
    assert "Hint:" in message and phrase in message, message
    assert "expected" not in message, message
    for pattern in _renderings(reference):
        assert not re.search(pattern, message), f"the message gives the value away ({pattern}): {message}"
    monkeypatch.setenv("SRSUPM_TEACHER", "1")                         # a teacher sees the value too
    assert checker(wrong, *inputs) is False
    assert "[teacher: expected " in capsys.readouterr().out


def test_require_stops_a_script_on_a_wrong_answer(capsys):
    checks.require(checks.check_pmsd(None, [[1, 2]], [1, 2]))        # not answered yet: nothing to stop
    with pytest.raises(AssertionError, match="hint is printed above"):
        checks.require(checks.check_pmsd(0.25, [[1, 2]], [1, 2]))
    checks.require(checks.check_pmsd(0.0, [[1, 2]], [1, 2]))


def test_a_counting_function_is_tried_on_several_sizes(capsys):
    """Ex 2.2 takes a function: a formula right at the lesson's size only (a constant) does not pass."""
    by_hand = refs.gru4rec_parameters
    assert checks.check_gru4rec_parameters(by_hand, 40, 6, 12) is True
    constant = by_hand(40, 6, 12)
    assert checks.check_gru4rec_parameters(lambda n, d, h: constant, 40, 6, 12) is False
    no_padding = lambda n, d, h: by_hand(n, d, h) - d                  # noqa: E731
    assert checks.check_gru4rec_parameters(no_padding, 40, 6, 12) is False
    assert "padding row" in capsys.readouterr().out


def test_none_is_not_answered_yet(capsys):
    for checker, inputs, *_ in _cases(0):
        checker(None, *inputs)
    assert capsys.readouterr().out.splitlines() == [checks.NOT_YET] * len(IDS)


def test_the_handout_holds_no_hand_computed_reference():
    """checks.py defines no reference_* helpers and never imports the teachers' references."""
    text = "".join(p.read_text() for p in (ROOT / "srsupm_lab" / "course" / "checks").glob("*.py"))
    assert "references" not in re.findall(r"^\s*(?:from|import)\s+(\S+)", text, flags=re.M)
    assert "expected about" not in text and "math.fsum" not in text
