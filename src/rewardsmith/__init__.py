"""rewardsmith: rule-based rewards, advantage estimators and their diagnostics for RL on LLMs."""

__version__ = "0.1.0"
