"""Analysis and plotting of trained models and their runs (paper §5.5–5.7; method.md §10).

One module per job:

=====================  =====================================================================
:mod:`.shift`          what a trained model's shift representations say (Figs. 6–8 measured)
:mod:`.branches`       do the K branches collapse, how much α knows of the PMSA level
:mod:`.shift_plots`    the plots of :mod:`.shift` and :mod:`.branches` (Figs. 6, 7, 8)
:mod:`.plots`          the figures the notebooks share (PMSD, levels, histories)
:mod:`.significance`   the paired bootstrap: is B's gain over A more than noise?
:mod:`.diagnose`       a run folder's method diagnostics on its best weights (CLI ``diagnose``)
=====================  =====================================================================
"""
