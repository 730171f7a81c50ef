"""Problem data: the validated instance as sorted sparse index sets and scaled parameters,
and the one cost model both the objective and ``costs.csv`` use."""
from optimizer.problem.build import build_problem_data
from optimizer.problem.data import KSC, KSCT, ProblemData, SharePolicy
from optimizer.problem.time import DAYS_PER_YEAR, HOURS_PER_YEAR, SECONDS_PER_DAY, Timeline

__all__ = ["build_problem_data", "ProblemData", "SharePolicy", "KSC", "KSCT", "Timeline",
           "DAYS_PER_YEAR", "HOURS_PER_YEAR", "SECONDS_PER_DAY"]
