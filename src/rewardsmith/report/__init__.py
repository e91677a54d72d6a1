"""Pictures and findings people would rather look at than read: matplotlib figures (Agg, no
display needed) and the HTML report of training runs.

Each figure is built from a result object (pure, testable: the texts drawn on it can be read
back) and written as PNG atomically.

* ``rewardsmith.report.stages``: the smoothing study (stages and the outcome simplex).
* ``rewardsmith.report.graders``: the learned-grader figures.
* Training runs, in the order the report is built: ``runs`` (load and group into arms),
  ``summary`` (one ``GroupSummary`` per arm), ``findings`` (one function per finding, numbers),
  ``findings_text`` (the sentences), ``training_figures``, ``html`` (``write_report``);
  ``rewardsmith.report.training`` re-exports their public names; ``stats`` holds the statistics.
"""
