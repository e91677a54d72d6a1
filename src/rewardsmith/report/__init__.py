"""Pictures people would rather look at than read: matplotlib figures (Agg, no display needed).

One module per study; each builds a ``matplotlib.figure.Figure`` from a result object (pure,
testable: the texts drawn on it can be read back) and has a ``save_*`` function that writes the PNG
atomically.

* ``rewardsmith.report.stages``: the smoothing study (stages and the outcome simplex).
"""
