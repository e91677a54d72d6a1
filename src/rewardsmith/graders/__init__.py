"""Learned rule graders: the Rule-Based-Rewards way of smoothing a discrete rule reward.

Propositions are yes/no statements about a completion; a grader gives the probability each one
holds (a calibrated classifier per proposition, or any callable such as an LLM judge). The reward

    R = R_base + sum_i w_i * p_i

adds them to the base rule reward with weights fit on ranked pairs of completions of the same
prompt by ``mean(relu(margin + R(worse) - R(better)))`` (AdamW). ``LearnedReward`` has the
``score`` / ``score_batch`` API of a RuleSet.

    from rewardsmith import graders
    reward, report = graders.fit_arithmetic_reward(base="seed-tiered")   # shipped data
    reward.score_batch(["<think>2+2=4</think><answer>4</answer>"], ["4"], workers=0).rewards

    # an LLM judge (local model or OpenAI-compatible server) on the shipped propositions
    judge = graders.LLMJudge("smollm2-135m")            # or "http://host:8000" (vLLM, llama.cpp)
    judge.probabilities(["What is 2+2?"], ["2+2=4, so 4."])   # (1, 8) P(yes)

    # your own labeled JSONL: text, one bool column per proposition, prompt_id, rank_class, answer
    data = graders.load_labeled("labeled.jsonl", need_ranking=True)
    reward, report = graders.fit_all(data, base=rules.load_rules("seed-tiered"))
"""

from rewardsmith.graders.classifier import (
    TRUSTED_TYPES,
    CallableGrader,
    GraderConfig,
    PropositionGrader,
    evaluate,
    load_grader,
)
from rewardsmith.graders.data import (
    LabeledData,
    load_labeled,
    ranked_pairs,
    shipped_data_path,
    split_by_prompt,
    validate_rows,
)
from rewardsmith.graders.judge import JudgeCache, LLMJudge
from rewardsmith.graders.judge_backends import (
    JudgeServerError,
    LocalBackend,
    ServerBackend,
    make_backend,
)
from rewardsmith.graders.judge_propositions import Proposition, load_propositions
from rewardsmith.graders.propositions import (
    ARITHMETIC_CLASSES,
    ARITHMETIC_PROPOSITIONS,
    rank_class_of,
)
from rewardsmith.graders.weights import (
    WeightFit,
    WeightFitConfig,
    fit_weights,
    hinge_loss,
    pairwise_accuracy,
)

__all__ = [
    "ARITHMETIC_CLASSES",
    "ARITHMETIC_PROPOSITIONS",
    "CallableGrader",
    "FitConfig",
    "GraderConfig",
    "JudgeCache",
    "JudgeServerError",
    "LLMJudge",
    "LabeledData",
    "LocalBackend",
    "Proposition",
    "RubricReward",
    "ServerBackend",
    "LearnedReward",
    "PropositionGrader",
    "TRUSTED_TYPES",
    "WeightFit",
    "WeightFitConfig",
    "evaluate",
    "distill",
    "fit_all",
    "fit_on_features",
    "fit_arithmetic_reward",
    "fit_graders",
    "fit_weights",
    "hinge_loss",
    "load_grader",
    "load_labeled",
    "load_propositions",
    "make_backend",
    "pairwise_accuracy",
    "rank_class_of",
    "ranked_pairs",
    "shipped_data_path",
    "split_by_prompt",
    "validate_rows",
]


def __getattr__(name):
    # LearnedReward and fit_all import rewardsmith.rules; load them on first use so the
    # classifier and weight fitting work on their own.
    if name == "LearnedReward":
        from rewardsmith.graders.reward import LearnedReward

        return LearnedReward
    if name == "RubricReward":
        from rewardsmith.graders.rubric import RubricReward

        return RubricReward
    if name in ("fit_all", "fit_graders", "fit_arithmetic_reward", "FitConfig", "distill",
                "fit_on_features"):
        from rewardsmith.graders import fit

        return getattr(fit, name)
    raise AttributeError(f"module 'rewardsmith.graders' has no attribute {name!r}")
