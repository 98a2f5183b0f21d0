"""Reproduce the paper's experiments (paper §5; method.md §10–§12): grids, runner, collection, reports.

    specs = table1(["beauty"], ["sasrec", "gru4rec"], seeds=[1, 2, 3])   # RunSpec(name, overrides)
    status = run_grid(specs, "runs/reproduce", engine="papermill", common={"device": "cuda"})
    df = collect("runs/reproduce")                                        # one row per finished run
    write_reports(df, "reports")                                          # CSV + markdown (+ Fig. 3 PNG)

One job per module, and the imports follow the data one way:

=========================  =================================================================
:mod:`.engines`            how a run is executed: papermill or inline, skip / resume, dry run
:mod:`.workers`            the ``--jobs`` worker processes and their signals
:mod:`.plan`               the declarative experiments file (``reports/experiments.toml``)
:mod:`.collect`            run folders to one frame (the one collector; methods add columns)
:mod:`.tables`             Tables 1, 3, 4 and Fig. 3 beside the paper's values
:mod:`.comparisons`        the paired comparisons (which run against which, pooled seeds)
:mod:`.figures`            the paper's Figs. 6, 7 and 8 from the runs
:mod:`.report`             the CSV, PNG and markdown files (``reproduction.md``)
:mod:`.report_folder`      a report folder written whole or not at all, never over other runs' report
:mod:`.decisive`           the decisive experiment's arms and report
:mod:`.oracle_gap`         the synthetic world's oracle gap
:mod:`.model_seeds`        the (dataset, model, seed) run folders of the experiments below
:mod:`.cold_start`         the cold-start experiment (users seen through their first k items)
:mod:`.mtrec`              MTRec's models with their AUC, NCIS and satisfaction (:mod:`.mtrec_beta`: its β)
:mod:`.one_pass`           SRSUPM one pass per user against per window, on validation data
=========================  =================================================================

What runs for the SRSUPM paper, and how its reports select runs, is SRSUPM's own:
:mod:`srsupm_lab.methods.srsupm.grids` (Tables 1, 3, 4, Fig. 3; run names),
:mod:`~srsupm_lab.methods.srsupm.frame` (the columns and masks), :mod:`~srsupm_lab.methods.srsupm.screening`
and :mod:`~srsupm_lab.methods.srsupm.timing` (Table 2); this package gathers their names.

    grids ──▶ engines (+ workers) ──▶ run folders ──▶ collect
          ──▶ tables / comparisons / figures ──▶ report
"""
from ..methods.srsupm.frame import ablated, full_srsupm, is_default, paper_model
from .collect import METRICS, collect, summarise
from .engines import ENGINES, NOTEBOOK, grid_status, run_grid
from .figures import fig6_table, fig7_table, fig8_table, plot_fig7, write_departure_fig6, write_figures
from ..methods.srsupm.grids import (ABLATIONS, CONTROL_ABLATIONS, DEFAULT_K, FIG3_KS, GRIDS, PAPER_DATASETS, PAPER_TABLE3_ROWS,
                    SWEEP_BACKBONES, SWITCHES, TABLE1_VARIANTS, TABLE3_ROWS, TABLE4_PS, RunSpec, build_grid,
                    departure_names, fig3, run_name, run_spec, table1, table3, table4)
from .plan import (EXPERIMENTS, check_plan_reports, common_settings, load_plan, plan_status, run_plan,
                   write_plan_reports)
from .report_folder import check_cells, check_replace, expected_runs
from .report import write_reports
from .comparisons import (ablation_backbone_significance_report, ablation_significance_report,
                           departure_significance_report, significance_report, sweep_significance_report)
from .tables import fig3_report, plot_fig3, table1_report, table3_report, table4_report

__all__ = ["RunSpec", "run_spec", "run_name", "table1", "TABLE1_VARIANTS", "TABLE3_ROWS", "PAPER_TABLE3_ROWS",
           "CONTROL_ABLATIONS", "ABLATIONS", "table3", "table4", "fig3", "SWEEP_BACKBONES", "TABLE4_PS", "FIG3_KS",
           "GRIDS", "PAPER_DATASETS", "SWITCHES", "DEFAULT_K", "build_grid", "departure_names",
           "NOTEBOOK", "ENGINES", "run_grid", "grid_status", "load_plan", "plan_status", "run_plan", "common_settings", "write_plan_reports", "EXPERIMENTS",
           "check_plan_reports", "check_replace", "expected_runs", "check_cells",
           "METRICS", "collect", "summarise", "paper_model", "full_srsupm", "ablated", "is_default",
           "table1_report", "table3_report", "table4_report", "fig3_report", "plot_fig3",
           "significance_report", "ablation_significance_report", "ablation_backbone_significance_report",
           "departure_significance_report", "sweep_significance_report",
           "fig7_table", "plot_fig7", "fig6_table", "fig8_table", "write_figures", "write_departure_fig6",
           "write_reports"]
