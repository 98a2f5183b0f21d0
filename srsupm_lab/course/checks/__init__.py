"""Exercise checkers of the lessons in ``tutorials/`` (the students' copy: it holds no model answer).

A lesson imports them as ``from srsupm_lab.course import checks``, so a lesson copied alone to a hub or
opened in a hosted notebook service finds them wherever the package is installed.

Every checker takes the student's ``answer`` first, then the inputs of the exercise, and prints ONE
line:

* ``None``: "not answered yet" (returns None);
* a right answer: "correct: ..." (returns True);
* a wrong one: "✗ <what>: not right yet. Hint: <hint>" (returns False). The hint says what kind
  of mistake it looks like (a property the answer breaks, or a common slip such as a 1-based
  rank), never the expected value.

A wrong answer prints a line and returns False rather than raising: a notebook then shows the hint
alone, not under a traceback, "run all" goes on to the next exercise, and a grader reads the
returned value. (:func:`require` turns a False into an error where a script must stop.)

Where the right value comes from: the package's own implementation of the paper (``srsupm_lab``:
``pmsa.pmsd``, ``evaluate.target_ranks``, ``pmsid.shift_distribution`` at the scale of the
lesson's model, ...), or an experiment on a real model (the causal positions). The checkers hold no worked
solution; the hand-written float64 references a teacher can read live in
``tutorials/solutions/references.py``, and the test suite checks that the two agree
(``tests/test_tutorial_checks.py``).

Teachers: set ``SRSUPM_TEACHER=1`` in the environment and a wrong answer shows the expected value
as well.

Only fixed strings are printed, so a check cell's output is the same on every machine.
"""
# one module per part of the course
from ._common import NOT_YET, TEACHER_FLAG, WRONG_MARK, require, teacher_mode
from .encoders import (GRU4REC_TRIAL_SIZES, check_causal_positions, check_dot_score, check_gru4rec_parameters,
                       check_ndcg, check_rank, check_training_windows)
from .matching import (check_discordant_share, check_group_size, check_info_nce, check_interval,
                       check_match_probability, check_paired_difference, check_recall_from_ranks,
                       check_sampling_probabilities)
from .reward_profiles import (check_compatibility, check_first_items_window, check_pinball_sum, check_rewards,
                              check_soft_values, check_tfidf_weight)
from .serving import check_recall_against_exact, check_top_k_unseen, check_users_per_second
from .shift import check_alpha, check_levels, check_mixed_score, check_pmsd, check_reg, check_share

__all__ = ["NOT_YET", "TEACHER_FLAG", "WRONG_MARK", "require", "teacher_mode", "GRU4REC_TRIAL_SIZES",
           "check_causal_positions", "check_dot_score", "check_gru4rec_parameters", "check_ndcg", "check_rank",
           "check_training_windows", "check_alpha", "check_levels", "check_mixed_score", "check_pmsd", "check_reg",
           "check_share", "check_discordant_share", "check_group_size", "check_info_nce", "check_interval",
           "check_match_probability", "check_paired_difference", "check_recall_from_ranks",
           "check_sampling_probabilities", "check_compatibility", "check_first_items_window", "check_pinball_sum",
           "check_rewards", "check_soft_values", "check_tfidf_weight", "check_recall_against_exact",
           "check_top_k_unseen", "check_users_per_second"]
