"""Decisions on top of the rater and the model: which price to ask for, which setting to
run, and how sure the choice is.

- :mod:`.negotiate`: indifference prices of every offer against the plan in force, and
  bundle sizing under uncertain volume (critical fractile);
- :mod:`.optimize`: the best dialer or script setting under a plan and the abandonment
  cap, by a space-filling stage, ranking and selection on common random numbers, and a
  validation on fresh seeds;
- :mod:`.uncertainty`: how sure: P(plan A cheaper than B) and the expected regret of each
  choice when the inputs themselves are uncertain.

Nothing here imports the simulation engine directly: simulated campaigns are run through
:mod:`sim.experiment` and :mod:`sim.sweeps`.
"""
