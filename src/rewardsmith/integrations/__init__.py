"""Adapters to where people already train and score: TRL, verl, Ray, Hugging Face datasets.

Each submodule imports its framework on first use, so ``import rewardsmith.integrations`` costs
nothing; import the one you need:

* ``rewardsmith.integrations.trl``  -- reward functions, any estimator inside ``GRPOTrainer``, a
  callback with label fractions, advantage diagnostics and collapse detectors (extra ``trl``);
* ``rewardsmith.integrations.verl`` -- ``compute_score`` / ``compute_score_batch`` and our estimators
  in verl's advantage-estimator registry (extra ``verl``);
* ``rewardsmith.integrations.ray``  -- ``score_rows_ray``: a rollout set scored with Ray Data
  (extra ``ray``);
* ``rewardsmith.integrations.data`` -- rollouts from/to JSONL, Parquet, ``datasets``, pyarrow, pandas;
* ``rewardsmith.integrations.remote`` -- clients of the reward server (``rewardsmith serve``): sync
  and async, a TRL reward function and a verl ``compute_score`` that score over HTTP (extra ``serve``).

Integrations use ``rewardsmith.rules`` and ``rewardsmith.advantages``; neither imports them.
"""

__all__ = ["trl", "verl", "ray", "data", "remote"]
