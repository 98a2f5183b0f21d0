"""The readings the paper leaves open, as settings (issue 22; method.md "choice"), against hand-written references."""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from srsupm_lab.backbones import build_backbone
from srsupm_lab.config import PRESETS, TrainConfig
from srsupm_lab.methods.srsupm.engagement import beta_entropy, branch_cosine, gradient_shares, is_engaged, measure
from srsupm_lab.methods.srsupm.pmsid import consistency_regulariser
from srsupm_lab.methods.srsupm.pmsim import info_nce
from srsupm_lab.methods.none import BackboneRecommender
from srsupm_lab.methods.srsupm.model import SRSUPM
from srsupm_lab.methods.srsupm.temperature import LevelTemperatures

from test_srsupm import TinyBackbone, batch_of, loss_with_fixed_partners, tiny_windows


def _nce_loop(a, p, tau, cosine=True, keep=None, group=None):
    """InfoNCE by loops over rows and columns (float64), the masks applied by hand."""
    B, losses = a.shape[0], []
    for i in range(B):
        if keep is not None and not keep[i]:
            continue
        sims = []
        for j in range(B):
            if group is not None and j != i and group[j] == group[i]:
                continue
            dot = float(a[i] @ p[j])
            sims.append((j, dot / (float(a[i].norm() * p[j].norm())) / tau if cosine else dot / tau))
        pos = next(s for j, s in sims if j == i)
        losses.append(-(pos - math.log(sum(math.exp(s) for _, s in sims))))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_info_nce_similarity_singletons_and_false_negatives(similarity):
    torch.manual_seed(3)
    a, p = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    keep = torch.tensor([True, False, True, True, False, True])
    group = torch.tensor([0, 1, 0, 2, 1, 0])
    cos = similarity == "cosine"
    assert float(info_nce(a, p, 0.7, similarity)) == pytest.approx(_nce_loop(a, p, 0.7, cos), abs=1e-10)
    assert float(info_nce(a, p, 0.7, similarity, keep=keep)) == pytest.approx(
        _nce_loop(a, p, 0.7, cos, keep=keep), abs=1e-10)
    assert float(info_nce(a, p, 0.7, similarity, keep=keep, group=group)) == pytest.approx(
        _nce_loop(a, p, 0.7, cos, keep=keep, group=group), abs=1e-10)
    with pytest.raises(ValueError, match="similarity"):
        info_nce(a, p, 0.7, "euclid")


@pytest.mark.parametrize("form", ["raw_mean", "raw_sum", "normalised_mean", "normalised_sum"])
def test_regulariser_forms_by_hand(form):
    torch.manual_seed(1)
    Z = torch.randn(3, 4, 5, dtype=torch.float64)
    per = []
    for b in range(3):
        zs = [Z[b, k] / Z[b, k].norm() if form.startswith("normalised") else Z[b, k] for k in range(4)]
        gaps = [float(((zs[k] - zs[k + 1]) ** 2).sum()) for k in range(3)]
        per.append(sum(gaps) if form.endswith("sum") else sum(gaps) / 3)
    assert float(consistency_regulariser(Z, form)) == pytest.approx(sum(per) / 3, abs=1e-12)


def test_unit_level_scale_is_one_and_fixed_is_inverse_sqrt_d():
    assert LevelTemperatures(16, "unit").scales() == {"alpha": 1.0, "beta": 1.0}
    assert LevelTemperatures(16, "fixed").scales() == {"alpha": 0.25, "beta": 0.25}


def _model(**kw):
    torch.manual_seed(0)
    model = SRSUPM(TinyBackbone(), K=3, **kw)
    w, levels = tiny_windows()
    model.prepare(w, levels)
    return model, w, levels


def test_view_dropout_augmentation_uses_one_pass_of_two_blocks(monkeypatch):
    """The lightweight augmentation: 2B encoder rows (windows, partners) and g_aug = dropout(g) of the windows."""
    model, w, levels = _model(augmentation="view_dropout", dropout=0.0, lambda2=1.0)
    rows, partner = torch.arange(8), torch.arange(8, 16)
    parts, encoded, views = loss_with_fixed_partners(model, w, levels, rows, partner, monkeypatch)
    assert len(encoded) == 1 and encoded[0].shape[0] == 16
    Z, Z_partner = views[0][:8], views[0][8:]
    # dropout 0: the augmented view is the basic view itself
    torch.testing.assert_close(parts["pmsim"], info_nce(Z.sum(1), Z_partner.sum(1), model.matching.tau))


def test_singletons_drop_leaves_lone_windows_out_of_pmsim():
    model, w, levels = _model(singletons="drop", dropout=0.0, lambda2=1.0)
    rows = torch.arange(24)
    alone = model.matching.alone(rows)
    sizes = torch.tensor([int(((w.targets == w.targets[i]) & (levels == levels[i])).sum()) for i in range(24)])
    assert torch.equal(alone, sizes == 1)                              # brute-force group sizes


def test_settings_rejected_with_their_name():
    with pytest.raises(ValueError, match="reg_form"):
        SRSUPM(TinyBackbone(), K=3, reg_form="l1")
    with pytest.raises(ValueError, match="augmentation"):
        SRSUPM(TinyBackbone(), K=3, augmentation="mixup")
    with pytest.raises(ValueError, match="singletons"):
        SRSUPM(TinyBackbone(), K=3, singletons="pair")
    with pytest.raises(ValueError, match="false_negatives"):
        TrainConfig(method="srsupm", method_options=dict(false_negatives="drop"))
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(method="srsupm", loss="bce")


def test_presets_apply_and_are_recorded():
    with pytest.warns(UserWarning, match="SASRec does not train.*reports/recbole-lr"):
        cfg = TrainConfig.from_preset("paper", method="srsupm")
    assert cfg.preset == "paper" and cfg.lr == 0.01 and cfg.batch_size == 128 and cfg.patience == 10
    assert cfg.method_options["augmentation"] == "view_dropout"
    assert (cfg.method_options["tau"], cfg.method_options["level_temperature"], cfg.method_options["reg_form"]) == (
        1.0, "fixed", "raw_mean")                                       # the literal readings of method.md §11
    with pytest.warns(UserWarning):
        assert TrainConfig.from_preset("paper", method="srsupm", method_options={"tau": 0.2}).method_options["tau"] == 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                  # GRU4Rec, or a learning rate given: no word
        assert TrainConfig.from_preset("paper", backbone="gru4rec").method_options == {}   # the protocol only
        assert TrainConfig.from_preset("paper", lr=0.001).lr == 0.001
    assert (TrainConfig().lr, TrainConfig().batch_size) == (0.001, 256)  # the defaults train (reports/recbole-lr)
    teach = TrainConfig.from_preset("teaching", epochs=2)
    assert teach.preset == "teaching" and teach.lr == PRESETS["teaching"]["lr"] and teach.epochs == 2
    with pytest.raises(ValueError, match="preset"):
        TrainConfig.from_preset("fast")


def test_bce_loss_is_binary_cross_entropy_of_target_against_one_sampled_negative():
    torch.manual_seed(0)
    bb = build_backbone("sasrec", n_items=30, dim=8, max_len=5, n_layers=1)
    rec = BackboneRecommender(bb, loss="bce").eval()                   # no dropout: h is deterministic
    inputs = torch.randint(1, 31, (6, 5))
    targets = torch.randint(1, 31, (6,))
    gen_state = torch.get_rng_state()
    loss, parts = rec.loss({"inputs": inputs, "targets": targets, "users": torch.arange(6)})
    torch.set_rng_state(gen_state)
    offset = torch.randint(1, 30, (6,))
    neg = (targets - 1 + offset) % 30 + 1
    assert bool((neg != targets).all())
    h, E = bb.encode(inputs).double(), bb.item_table().double()
    sig = torch.sigmoid
    want = (-(torch.log(sig((h * E[targets]).sum(1)))).mean() - torch.log(1 - sig((h * E[neg]).sum(1))).mean()).detach()
    assert float(loss.detach()) == pytest.approx(float(want), rel=1e-5)


def test_bert4rec_trains_on_the_cloze_task_alone_by_default():
    torch.manual_seed(0)
    bb = build_backbone("bert4rec", n_items=30, dim=8, max_len=6, n_layers=1)
    assert bb.next_item_loss is False
    batch = {"inputs": torch.randint(1, 31, (4, 5)), "targets": torch.randint(1, 31, (4,)), "users": torch.arange(4)}
    torch.manual_seed(1)
    loss, parts = BackboneRecommender(bb).loss(batch)
    torch.manual_seed(1)
    cloze = bb.auxiliary_loss(batch["inputs"], batch["targets"])
    assert set(parts) == {"aux"} and float(loss) == pytest.approx(float(cloze))
    both = build_backbone("bert4rec", n_items=30, dim=8, max_len=6, n_layers=1, next_item_loss=True)
    _, parts = BackboneRecommender(both).loss(batch)
    assert set(parts) == {"rec", "aux"}


# ------------------------------------------------------------------ engagement numbers
def test_branch_cosine_and_beta_entropy_by_brute_force():
    torch.manual_seed(2)
    Z, E = torch.randn(5, 3, 4), torch.randn(7, 4)
    cos = [float(F.cosine_similarity(Z[m, k], Z[m, j], dim=0)) for m in range(5) for k in range(3) for j in range(3)
           if k != j]
    assert branch_cosine(Z) == pytest.approx(sum(cos) / len(cos), abs=1e-6)
    ent = []
    for m in range(5):
        for i in range(7):
            b = torch.softmax(torch.tensor([float(Z[m, k] @ E[i]) * 0.5 for k in range(3)], dtype=torch.float64), 0)
            ent.append(float(-(b * b.log()).sum()) / math.log(3))
    assert beta_entropy(Z, E, 0.5, block=2) == pytest.approx(sum(ent) / len(ent), abs=1e-5)


def test_gradient_shares_are_norms_of_each_weighted_term():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    terms = {"a": (x ** 2).sum(), "b": x.sum(), "c": x.sum() * 0}
    shares = gradient_shares(terms, {"a": 1.0, "b": 3.0, "c": 1.0}, x)
    na, nb = math.hypot(2, 4), math.hypot(3, 3)                        # ∂a = 2x, ∂(3b) = 3
    assert shares["a"] == pytest.approx(na / (na + nb)) and shares["b"] == pytest.approx(nb / (na + nb))
    assert shares["c"] == 0.0


def test_measure_changes_no_training_state():
    model, w, levels = _model(lambda2=1.0)
    model.train()
    conf = model.confidence.clone()
    rng = torch.get_rng_state()
    out = measure(model, w, levels, batch=batch_of(w, levels, range(12)), sample=torch.arange(24))
    assert torch.equal(model.confidence, conf) and torch.equal(torch.get_rng_state(), rng) and model.training
    assert set(out) >= {"alpha_info", "alpha_info_share", "beta_entropy", "branch_cosine", "grad_rec", "grad_pmsid",
                        "grad_pmsim", "grad_reg", "pmsim_chance"}
    assert sum(v for k, v in out.items() if k.startswith("grad_")) == pytest.approx(1.0)
    assert out["pmsim_chance"] == pytest.approx(math.log(12))


def test_is_engaged_needs_both_alpha_information_and_pmsim_below_chance():
    row = {"eng_alpha_info_share": 0.2, "loss_pmsim": 4.0, "eng_pmsim_chance": math.log(128)}
    assert is_engaged(row)
    assert not is_engaged({**row, "eng_alpha_info_share": 0.01})
    assert not is_engaged({**row, "loss_pmsim": math.log(128) - 0.1})
    assert not is_engaged({"loss_pmsim": 4.0})


# ------------------------------------------------------------------ headless runs and the screening
TINY_WORLD = {"n_users": 60, "n_items": 40, "n_labels": 6, "n_motivations": 3, "cats_per_motivation": 2}


def test_headless_run_prints_one_line_per_epoch_and_records_engagement(capsys):
    from srsupm_lab.experiment import run_experiment
    res = run_experiment(TrainConfig(dataset="synthetic", dataset_options=TINY_WORLD, method="srsupm", epochs=2,
                                     batch_size=64, max_len=8, dim=16, progress=False, device="cpu"))
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch ")]
    assert [ln.split(":")[0] for ln in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "valid recall@10" in lines[0] and "ETA" in lines[0] and "α info" in lines[0]
    cols = set(res["history"].columns)
    assert {"eng_alpha_info", "eng_alpha_info_share", "eng_beta_entropy", "eng_branch_cosine", "eng_pmsim_chance",
            "eng_grad_rec", "eng_grad_pmsid", "eng_grad_pmsim", "eng_grad_reg"} <= cols


def test_screening_ranks_on_validation_and_chooses_only_an_engaged_winner(tmp_path):
    import pandas as pd

    from srsupm_lab.methods.srsupm import screening
    from srsupm_lab.reproduce.screening import run_screening
    run_screening("synthetic", 1, 1, tmp_path, names=["backbone", "paper", "unit+sharp+normreg"],
                            dataset_options=TINY_WORLD, max_len=8, dim=16, device="cpu")
    table = screening.screening_table(tmp_path)
    assert list(table["setting"]) != [] and set(table["setting"]) == {"backbone", "paper", "unit+sharp+normreg"}
    assert not any(c.startswith("test") for c in table.columns)                 # no test metric is read
    assert list(table["valid_recall@10"]) == sorted(table["valid_recall@10"], reverse=True)
    csv = screening.write_report(tmp_path, tmp_path / "reports", "synthetic")
    assert pd.read_csv(csv).shape[0] == 3 and (tmp_path / "reports" / "screening_synthetic.md").exists()
    # choose: an engaged setting wins only when it beats the paper-literal one on validation
    rows = pd.DataFrame({"setting": ["paper", "a", "b", "backbone"], "valid_recall@10": [0.30, 0.32, 0.35, 0.4],
                         "engaged": [False, True, False, None]})
    assert screening.choose(rows) == "a"
    assert screening.choose(rows.assign(engaged=[False, False, False, None])) is None
    assert screening.choose(rows.assign(**{"valid_recall@10": [0.33, 0.32, 0.35, 0.4]})) is None


# ------------------------------------------------------------------ the oracle of the synthetic world
def test_windows_carry_the_generators_switch_at_each_target_step():
    from srsupm_lab.data import leave_one_out, make_synthetic
    ds = make_synthetic(**TINY_WORLD, seed=3)
    split = leave_one_out(ds, max_len=4)
    # brute force: walk every user's sequence and read meta["switch"] at the target's position
    want_train, want_valid, want_test = [], [], []
    for u, seq in enumerate(ds.sequences):
        sw = ds.meta["switch"][u]
        n = len(seq)
        want_train += [int(sw[t]) for t in range(1, n - 2)]
        want_valid.append(int(sw[n - 2]))
        want_test.append(int(sw[n - 1]))
    assert split.train.context.tolist() == want_train
    assert split.valid.context.tolist() == want_valid and split.test.context.tolist() == want_test


def test_shift_oracle_starts_as_its_backbone_and_reads_the_truth():
    from srsupm_lab.methods.srsupm.oracle import ShiftOracle, gap_closed
    from srsupm_lab.families.protocol import Batch
    torch.manual_seed(0)
    bb = build_backbone("gru4rec", n_items=30, dim=8, max_len=5)
    oracle = ShiftOracle(bb).eval()
    inputs, users = torch.randint(1, 31, (4, 5)), torch.arange(4)
    context = torch.tensor([0, 1, 1, 0])
    told = Batch(inputs=inputs, users=users, context=context)
    torch.testing.assert_close(oracle.score(told), BackboneRecommender(bb).eval().score(inputs, users))
    with torch.no_grad():
        oracle.shift.weight[1] = 1.0
    moved = oracle.score(told) - BackboneRecommender(bb).eval().score(inputs, users)
    E = bb.item_table()
    torch.testing.assert_close(moved[1], E.sum(1), rtol=1e-5, atol=1e-5)        # ⟨1, e_i⟩ on switched rows only
    assert float(moved[0].abs().max()) == 0.0
    with pytest.raises(ValueError, match="ground truth"):
        oracle.score(inputs, users)
    assert gap_closed(0.40, 0.43, 0.50) == pytest.approx(0.3) and math.isnan(gap_closed(0.5, 0.4, 0.5))
    with pytest.raises(ValueError, match="switches of methods"):
        TrainConfig.from_dict({"dataset": "synthetic", "oracle": True, "srsupm": True})    # the flat shape: one method
    with pytest.raises(ValueError, match="oracle.*synthetic"):
        TrainConfig(dataset="beauty", method="oracle")


def test_demo_compares_backbone_srsupm_and_the_oracle_and_says_how_much_gap_is_closed(tmp_path, capsys):
    import pandas as pd

    from srsupm_lab.__main__ import main
    assert main(["demo", "--backbone", "gru4rec", "--epochs", "1", "--max-len", "5", "--K", "3", "--device", "cpu",
                 "--quiet", "--out", str(tmp_path / "demo")]) == 0
    table = pd.read_csv(tmp_path / "demo" / "comparison.csv")
    assert list(table["model"]) == ["gru4rec", "SRSUPM+gru4rec", "oracle+gru4rec"]
    out = capsys.readouterr().out
    r = dict(zip(table["model"], table["recall@10"]))
    gap = r["oracle+gru4rec"] - r["gru4rec"]
    if gap <= 0:
        assert "does not beat the backbone" in out
    elif r["SRSUPM+gru4rec"] <= r["gru4rec"]:
        assert "closes none of that gap" in out
    else:
        share = (r["SRSUPM+gru4rec"] - r["gru4rec"]) / gap
        assert f"closes {share:.0%} of that gap" in out


def test_oracle_gap_report_from_run_folders(tmp_path):
    import pandas as pd

    from srsupm_lab.reproduce import oracle_gap
    oracle_gap.run_gap([1], tmp_path, epochs=1, dataset_options=TINY_WORLD, max_len=6, dim=16, device="cpu")
    table = oracle_gap.gap_table(tmp_path)
    assert len(table) == 1
    b, s, o = (float(table[f"{m}_recall@10"].iloc[0]) for m in ("backbone", "srsupm", "oracle"))
    want = (s - b) / (o - b) if o > b else float("nan")
    got = float(table["gap_closed"].iloc[0])
    assert (got != got and want != want) or got == pytest.approx(want)
    md = oracle_gap.write_gap_report(tmp_path, tmp_path / "reports")
    assert "share of the gap SRSUPM closes" in md.read_text() and pd.read_csv(tmp_path / "reports" /
                                                                            "synthetic_oracle.csv").shape[0] == 1


def _flat_config(**changes) -> dict:
    """A config as runs stored it before methods had sections: SRSUPM's settings flat at the top (written out
    by hand, with the values of that time), before ``augmentation`` and its siblings existed."""
    top = {k: v for k, v in TrainConfig().to_dict().items() if k not in ("method", "method_options", "loss", "preset")}
    return {**top, "srsupm": False, "oracle": False, "lambda1": 0.4, "lambda2": 0.1, "gamma": 0.1, "tau": 1.0,
            "dropout": 0.1, "pmsid": True, "pmsim": True, "pmi": True, "priors": True, "level_temperature": "fixed",
            "fused_mixture": False, **changes}


def test_configs_stored_before_a_setting_existed_read_as_those_runs_ran():
    from srsupm_lab.run_folder import config_differences, upgrade_stored_config
    old = _flat_config(srsupm=True, gamma=0.01)
    up = upgrade_stored_config(old)
    assert up["method"] == "srsupm" and "srsupm" not in up and "gamma" not in up
    assert up["method_options"]["augmentation"] == "encoder_dropout"               # the only reading before 2026-12-01
    assert up["method_options"]["gamma"] == 0.01 and up["loss"] == "ce"
    now = TrainConfig(method="srsupm", method_options=dict(lambda2=0.1, tau=1.0, level_temperature="fixed", gamma=0.01))
    assert config_differences(old, now.to_dict()) == {                              # resuming it would change the run
        "method_options.augmentation": ("encoder_dropout", "view_dropout"),
        "method_options.reg_form": ("raw_mean", "normalised_mean")}
    assert config_differences(old, now.replace(method_options={**now.method_options, "fused_mixture": True,
                                                               "augmentation": "encoder_dropout",
                                                               "reg_form": "raw_mean"}).to_dict()) == {}  # speed only
    alone = _flat_config(gamma=0.5, tau=3.0)                                         # settings it never read
    assert upgrade_stored_config(alone)["method_options"] == {} and config_differences(alone, TrainConfig().to_dict()) == {}
    bert = _flat_config(backbone="bert4rec")
    assert upgrade_stored_config(bert)["backbone_options"] == {"next_item_loss": True}
    assert config_differences(bert, TrainConfig(backbone="bert4rec").to_dict())["backbone_options"] == (
        {"next_item_loss": True}, {})
    assert upgrade_stored_config(TrainConfig(backbone="bert4rec").to_dict())["backbone_options"] == {}   # today's


def test_diagnose_prints_the_engagement_of_a_run_folder(tmp_path, capsys):
    from srsupm_lab.__main__ import main
    from srsupm_lab.experiment import run_experiment
    common = dict(dataset="synthetic", dataset_options=TINY_WORLD, epochs=1, batch_size=64, max_len=6, dim=16,
                  progress=False, device="cpu")
    run_experiment(TrainConfig(method="srsupm", out_dir=str(tmp_path / "srsupm"), **common))
    assert main(["diagnose", str(tmp_path / "srsupm")]) == 0
    out = capsys.readouterr().out
    assert "alpha_info_share" in out and "branch_cosine" in out and "Per epoch" in out and "engaged" in out
    run_experiment(TrainConfig(out_dir=str(tmp_path / "alone"), **common))
    assert main(["diagnose", str(tmp_path / "alone")]) == 0                       # the backbone alone: its history
    out = capsys.readouterr().out
    assert "method 'none' records no diagnostics" in out and "valid_recall@10" in out and "engaged" not in out


def test_decisive_arms_are_the_issues_five_and_the_report_pairs_finished_seeds(tmp_path):
    from srsupm_lab.reproduce import decisive
    configs = {c["out_dir"].split("/")[-2]: c for c in decisive.arm_configs([1], tmp_path)}
    assert list(configs) == ["sasrec", "sasrec-bce", "sasrec+control", "sasrec+srsupm-paper", "sasrec+srsupm-engaged"]
    for c in configs.values():
        cfg = TrainConfig.from_dict(c)
        assert (cfg.lr, cfg.batch_size, cfg.patience, cfg.epochs, cfg.dim, cfg.max_len) == (0.01, 128, 10, 200, 64, 50)
    assert configs["sasrec-bce"]["loss"] == "bce" and configs["sasrec"]["method"] == "none"
    ctrl, eng = (configs[a]["method_options"] for a in ("sasrec+control", "sasrec+srsupm-engaged"))
    assert not (ctrl["pmsid"] or ctrl["pmsim"] or ctrl["pmi"]) and ctrl["reg_form"] == eng["reg_form"]
    assert configs["sasrec+srsupm-paper"]["preset"] == "paper"
    sports = decisive.arm_configs([2], tmp_path, ["sasrec"], "sports")[0]        # the same protocol on another dataset
    assert sports["dataset"] == "sports" and Path(sports["out_dir"]) == tmp_path / "sports" / "sasrec" / "seed2"
    assert {k: v for k, v in sports.items() if k not in ("dataset", "out_dir", "seed")} == {
        k: v for k, v in configs["sasrec"].items() if k not in ("dataset", "out_dir", "seed")}
    # a report from two tiny finished arms (the protocol swapped for a tiny synthetic one)
    tiny = dict(dataset_options=TINY_WORLD, epochs=1, max_len=6, dim=16, device="cpu")
    decisive.run_decisive([1], tmp_path, arms=["sasrec", "sasrec-bce"], dataset="synthetic", **tiny)
    assert (tmp_path / "synthetic" / "sasrec-bce" / "seed1" / "results.json").is_file()
    with pytest.raises(FileNotFoundError, match="no finished run below .*beauty"):     # none on Beauty: nothing written
        decisive.decisive_report(tmp_path, tmp_path / "rep", n_boot=50)
    assert not (tmp_path / "rep").exists()
    md = decisive.decisive_report(tmp_path, tmp_path / "rep", n_boot=50, dataset="synthetic")
    assert md.name == "decisive_synthetic.md"
    text = md.read_text()
    assert "(a) sasrec" in text and "(b) sasrec-bce" in text and "(e) sasrec+srsupm-engaged seed 1" in text
    assert "no Table 1 cell" in text and "--dataset synthetic" in text
    import pandas as pd
    sig = pd.read_csv(tmp_path / "rep" / "significance_synthetic.csv")
    assert set(sig["model_b"]) == {"(b) sasrec-bce"} and set(sig["metric"]) == {"recall@10", "ndcg@10"}
