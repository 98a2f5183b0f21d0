"""Learned level temperatures (srsupm_lab/methods/srsupm/temperature.py), a departure from the paper's 1/√d.

References are independent: per-item float64 loops with the scale written out, and the paper's
model itself (a learned scale must start exactly where ``"fixed"`` is).
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from srsupm_lab.config import TrainConfig
from srsupm_lab.run_folder import config_differences
from srsupm_lab.methods.srsupm.pmsid import shift_logits
from srsupm_lab.methods.srsupm.prediction import mixed_scores
from srsupm_lab.methods.srsupm.model import SRSUPM
from srsupm_lab.methods.srsupm.temperature import MAX_LOG_SCALE, LevelTemperatures
from test_srsupm import TinyBackbone, batch_of, tiny_windows


def test_mixed_scores_with_a_scale_match_a_float64_loop():
    torch.manual_seed(1)
    B, K, d, N, scale = 2, 3, 4, 5, 0.73
    Z, E = torch.randn(B, K, d, dtype=torch.float64), torch.randn(N, d, dtype=torch.float64)
    want = torch.empty(B, N, dtype=torch.float64)
    for b in range(B):
        for i in range(N):
            dots = [float(Z[b, k] @ E[i]) for k in range(K)]
            w = [math.exp(scale * x) for x in dots]
            want[b, i] = sum(w[k] * dots[k] for k in range(K)) / sum(w)
    torch.testing.assert_close(mixed_scores(Z, E, scale), want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(mixed_scores(Z, E, torch.tensor(scale, dtype=torch.float64)), want,
                               rtol=1e-10, atol=1e-10)
    # a huge scale picks the best level's score, a zero scale averages the levels
    dots = torch.einsum("bkd,nd->bkn", Z, E)
    torch.testing.assert_close(mixed_scores(Z, E, 1e4), dots.max(dim=1).values)
    torch.testing.assert_close(mixed_scores(Z, E, 0.0), dots.mean(dim=1))


def test_shift_logits_scale():
    torch.manual_seed(2)
    Z, e = torch.randn(3, 4, 6), torch.randn(3, 6)
    want = torch.stack([torch.stack([Z[b, k] @ e[b] for k in range(4)]) for b in range(3)])
    torch.testing.assert_close(shift_logits(Z, e), want / math.sqrt(6))
    torch.testing.assert_close(shift_logits(Z, e, 2.5), want * 2.5)


def test_fixed_is_the_paper_and_adds_no_parameter():
    t = LevelTemperatures(64)
    assert t.alpha == t.beta == 1 / 8 and list(t.parameters()) == []
    torch.manual_seed(0)
    fixed = SRSUPM(TinyBackbone(), K=3)
    assert not any("temperatures" in k for k in fixed.state_dict())     # old checkpoints still load


def test_learned_starts_at_the_paper_and_is_clamped():
    t = LevelTemperatures(16, "learned")
    assert {n for n, _ in t.named_parameters()} == {"log_alpha", "log_beta"}
    assert float(t.alpha.detach()) == float(t.beta.detach()) == 0.25
    assert t.scales() == {"alpha": 0.25, "beta": 0.25}
    with torch.no_grad():
        t.log_alpha.fill_(100.0)
        t.log_beta.fill_(-100.0)
    assert float(t.alpha.detach()) == pytest.approx(0.25 * math.exp(MAX_LOG_SCALE))
    assert float(t.beta.detach()) == pytest.approx(0.25 * math.exp(-MAX_LOG_SCALE))
    with pytest.raises(ValueError, match="mode must be one of"):
        LevelTemperatures(16, "annealed")
    with pytest.raises(ValueError, match="dim must be"):
        LevelTemperatures(0)


def _pair():
    w, levels = tiny_windows()
    models = []
    for mode in ("fixed", "learned"):
        torch.manual_seed(0)
        m = SRSUPM(TinyBackbone(), K=3, dropout=0.0, level_temperature=mode)
        m.prepare(w, levels)
        models.append(m)
    return models, w, levels


def test_learned_model_equals_fixed_at_start_and_trains_its_scales():
    (fixed, learned), w, levels = _pair()
    batch = batch_of(w, levels, range(12))
    torch.manual_seed(3)
    loss_f, parts_f = fixed.loss(batch)
    torch.manual_seed(3)
    loss_l, parts_l = learned.loss(batch)
    for k in parts_f:
        torch.testing.assert_close(parts_l[k], parts_f[k])
    loss_l.backward()
    t = learned.temperatures
    assert t.log_alpha.grad is not None and float(t.log_alpha.grad) != 0      # L_PMSID reaches θ_α
    assert t.log_beta.grad is not None and float(t.log_beta.grad) != 0        # L_rec reaches θ_β


def test_learned_scales_are_used_in_scores_and_alpha():
    (_, learned), w, levels = _pair()
    with torch.no_grad():
        learned.temperatures.log_alpha.fill_(1.0)
        learned.temperatures.log_beta.fill_(-0.5)
    learned.eval()
    rows = torch.arange(4)
    Z = learned.shift_representations(w.inputs[rows], w.users[rows]).double()
    E = learned.backbone.item_table().detach().double()
    a, b = math.exp(1.0) / math.sqrt(8), math.exp(-0.5) / math.sqrt(8)
    alpha = learned.shift_distribution(w.inputs[rows], w.users[rows], w.targets[rows])
    with torch.no_grad():
        s = learned.score(w.inputs[rows], w.users[rows])
    for r in range(4):
        dots_t = torch.stack([Z[r, k] @ E[w.targets[r]] for k in range(3)])
        torch.testing.assert_close(alpha[r].double(), torch.softmax(a * dots_t, 0), rtol=1e-5, atol=1e-6)
        for i in (1, 9, 20):
            dots = torch.stack([Z[r, k] @ E[i] for k in range(3)])
            assert abs(float((torch.softmax(b * dots, 0) * dots).sum()) - float(s[r, i])) < 1e-4


def test_config_field_and_old_run_folders():
    with pytest.raises(ValueError, match="level_temperature"):
        TrainConfig(method="srsupm", method_options=dict(level_temperature="warm"))
    cfg = TrainConfig(method="srsupm", method_options=dict(level_temperature="learned"))
    assert json.loads(cfg.to_json())["method_options"]["level_temperature"] == "learned"
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("method", "method_options")}
    old.update(srsupm=True, oracle=False, **{k: v for k, v in cfg.method_options.items() if k != "level_temperature"})
    # a flat config.json written before the field existed: 1/√d
    fixed = TrainConfig(method="srsupm", method_options={**cfg.method_options, "level_temperature": "fixed"})
    assert config_differences(old, fixed.to_dict()) == {}
    assert config_differences(old, cfg.to_dict()) == {"method_options.level_temperature": ("fixed", "learned")}