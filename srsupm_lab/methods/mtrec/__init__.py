"""MTRec's core: the mental reward network, its stage-1 objectives and the alignment loss (docs/mtrec_method.md)."""
from .align import align_loss, normalise_rewards, response_probability, reward_stats
from .iql import chi2, iq_learn_loss, qr_iql_loss
from .quantiles import pinball, pinball_loss, quantile_levels, squared, squared_loss
from .reward_model import (A_N, A_P, RewardModel, next_window_index, sample_negatives,
                           train_reward_model)

__all__ = ["A_N", "A_P", "RewardModel", "align_loss", "chi2", "iq_learn_loss", "next_window_index",
           "normalise_rewards", "pinball", "pinball_loss", "qr_iql_loss", "quantile_levels",
           "response_probability", "reward_stats", "sample_negatives", "squared", "squared_loss",
           "train_reward_model"]
