"""The shared progress bar: count, rate and ETA stay readable in a log (not a terminal)."""

import re

from rewardsmith.progress import progress_bar


def test_bar_in_a_log_keeps_rate_eta_and_fields(capsys):
    with progress_bar(info="reward={task.fields[reward]:+.2f}") as bar:
        task = bar.add_task("a fairly long description seed 0 lr 0.0003", total=5, reward=0.0)
        for _ in range(5):
            bar.update(task, advance=1, reward=0.25)
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert "…" not in out, out
    assert re.search(r"5/5 +[\d,.]+(/s|s/it) +\d:\d\d:\d\d eta 0:00:00 reward=\+0\.25$", out), out
