"""The `judge` suite kind: LLM-as-judge pairwise win rate, both orders, validated on gold pairs
(suite.py: the file; verdicts.py: accounting; judges.py: log-prob and JSON judges; run.py: the
gate's measurement)."""
