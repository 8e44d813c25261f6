"""Metric families: one module each. A metric scores every example (so two systems can be
paired) and summarises secondary figures for reports."""

from evalgate.metrics.base import ExampleScore, Metric
from evalgate.metrics.contains import Contains
from evalgate.metrics.exact_match import ExactMatch
from evalgate.metrics.json_schema import JsonSchemaCompliance

__all__ = ["Contains", "ExactMatch", "ExampleScore", "JsonSchemaCompliance", "Metric"]
