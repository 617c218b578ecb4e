"""Analysis of runs: KPIs, confidence intervals, Erlang formulas, compliance, plots.

Imports numpy, scipy and matplotlib only — never the simulation engine — so it works
on imported CDRs as well as simulated ones.
"""
