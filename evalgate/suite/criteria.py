"""Criteria as users write them in a suite: one metric with a bound, validated strictly.

A criterion with no bound could never fail, so at least one bound is required. Absolute bounds
(`min`, `max`) are decided on the 95% interval, not the point estimate: a criterion whose
interval straddles its bound is INCONCLUSIVE (the data cannot decide), which blocks like FAIL.

Relative bounds compare a candidate with the best baseline on the same examples:
`beat_baseline: {margin: m}` (candidate − best baseline > m) and `max_drop: d` (non-inferiority:
the drop stays under d). Only the gate decides them (evalgate.gate), on the paired difference;
a single run shows them as RELATIVE ("decided by the gate").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from jsonschema import validators
from jsonschema.exceptions import SchemaError
from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from evalgate.checks.base import Status, decide_interval
from evalgate.errors import ConfigError
from evalgate.metrics.base import Metric
from evalgate.metrics.contains import Contains
from evalgate.metrics.exact_match import ExactMatch, Normalization
from evalgate.metrics.json_schema import JsonSchemaCompliance
from evalgate.util.files import sha256_file
from evalgate.util.yamlio import StrictModel

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)]


class BeatBaseline(StrictModel):
    margin: float = Field(0.0, ge=0.0, description="candidate − best baseline must surely "
                                                   "exceed this (in the metric's units)")


RELATIVE_KEYS = ("beat_baseline", "max_drop")


class CriterionBase(StrictModel):
    name: Name
    min: float | None = Field(None, description="pass only if the value is surely ≥ min")
    max: float | None = Field(None, description="pass only if the value is surely ≤ max")
    beat_baseline: BeatBaseline | None = Field(
        None, description="the gate passes only if the candidate surely beats the best "
                          "baseline by more than `margin` (paired, same examples)")
    max_drop: float | None = Field(
        None, ge=0.0, description="non-inferiority: the gate passes only if the candidate's "
                                  "drop against the best baseline surely stays under this")

    @model_serializer(mode="wrap")
    def _omit_unused_relative(self, handler: SerializerFunctionWrapHandler):
        # Criteria without relative bounds dump (and so hash) exactly as before they existed:
        # existing caches, run keys and training pins stay valid.
        data = handler(self)
        if isinstance(data, dict):
            for key in RELATIVE_KEYS:
                if data.get(key, 0) is None:
                    del data[key]
        return data

    @property
    def has_absolute(self) -> bool:
        return self.min is not None or self.max is not None

    @property
    def has_relative(self) -> bool:
        return self.beat_baseline is not None or self.max_drop is not None

    @model_validator(mode="after")
    def _has_bound(self) -> "CriterionBase":
        if not self.has_absolute and not self.has_relative:
            raise ValueError("a criterion needs a bound: set `min`/`max`, `beat_baseline` or "
                             "`max_drop` (a criterion that cannot fail is not a gate)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"`min` ({self.min}) is above `max` ({self.max})")
        return self

    def bound_text(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f"≥ {self.min:g}")
        if self.max is not None:
            parts.append(f"≤ {self.max:g}")
        if self.has_relative:
            parts.append(f"relative ({self.relative_text()}): decided by the gate")
        return " and ".join(parts)

    def relative_text(self) -> str:
        parts = []
        if self.beat_baseline is not None:
            parts.append(f"beat best baseline by > {self.beat_baseline.margin:g}")
        if self.max_drop is not None:
            parts.append(f"drop < {self.max_drop:g}")
        return ", ".join(parts)

    @property
    def higher_is_better(self) -> bool:
        """Lower is better only for a criterion bounded by `max` alone (e.g. an error rate);
        relative bounds are mirrored for it."""
        return self.min is not None or self.max is None

    def decide(self, low: float, high: float) -> Status:
        """PASS when the whole interval is inside the bounds, FAIL when it is wholly outside
        one of them, INCONCLUSIVE when it straddles a bound. Relative bounds are not decided
        here (one run has nothing to pair with): with no absolute bound the status is
        RELATIVE."""
        if not self.has_absolute:
            return Status.RELATIVE
        statuses = []
        if self.min is not None:
            statuses.append(decide_interval(low, high, self.min, above=True))
        if self.max is not None:
            statuses.append(decide_interval(low, high, self.max, above=False))
        if Status.FAIL in statuses:
            return Status.FAIL
        if Status.INCONCLUSIVE in statuses:
            return Status.INCONCLUSIVE
        return Status.PASS

    def build(self, suite_dir: Path, suite_path: Path) -> Metric:  # pragma: no cover - abstract
        raise NotImplementedError

    def fingerprint(self, suite_dir: Path) -> dict:
        """What decides this criterion's per-example scores (bounds excluded: changing a bound
        re-decides but does not re-score). Files it reads are included by hash."""
        return self.model_dump(mode="json", by_alias=True,
                               exclude={"min", "max", *RELATIVE_KEYS})


class ExactMatchCriterion(CriterionBase):
    metric: Literal["exact_match"]
    reference: str = Field("reference", description="example field holding the reference")
    normalize: list[Normalization] = Field(default_factory=lambda: ["strip"])
    json_keys: list[str] | None = Field(
        None, description="JSON-aware mode: these keys of the output object must equal the "
                          "reference object's")
    extract: Literal["whole", "first_object"] = "first_object"

    def build(self, suite_dir: Path, suite_path: Path) -> Metric:
        return ExactMatch(reference_field=self.reference, options=tuple(self.normalize),
                          json_keys=tuple(self.json_keys or ()), extract=self.extract)


class ContainsCriterion(CriterionBase):
    metric: Literal["contains"]
    reference: str = Field("reference", description="field with the answer or a list of them")
    normalize: list[Normalization] = Field(
        default_factory=lambda: ["case", "punctuation", "whitespace"])

    def build(self, suite_dir: Path, suite_path: Path) -> Metric:
        return Contains(reference_field=self.reference, options=tuple(self.normalize))


class JsonSchemaCriterion(CriterionBase):
    metric: Literal["json_schema"]
    schema_: str = Field(alias="schema", description="JSON Schema file, relative to the suite")
    extract: Literal["whole", "first_object"] = "first_object"

    def build(self, suite_dir: Path, suite_path: Path) -> Metric:
        schema_path = suite_dir / self.schema_
        key = f"criteria[{self.name}].schema"
        if not schema_path.is_file():
            raise ConfigError(f"schema file not found: {schema_path}", path=suite_path, key=key,
                              fix="point `schema:` at a JSON Schema file (relative to the suite)")
        from evalgate.util.jsonl import decode_utf8

        try:
            text = decode_utf8(schema_path.read_bytes(), schema_path)
        except OSError as exc:
            raise ConfigError(f"cannot read the schema file: {exc.strerror or exc}",
                              path=schema_path, fix="make it readable") from exc
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"schema file is not valid JSON: {exc.msg} (column {exc.colno})",
                              path=schema_path, line=exc.lineno,
                              fix="make the schema file a JSON document") from exc
        except (ValueError, RecursionError) as exc:
            raise ConfigError("schema file is not plain JSON: "
                              f"{'nested too deeply' if isinstance(exc, RecursionError) else exc}",
                              path=schema_path, fix="make the schema file a JSON document") from exc
        used_by = f"(the schema of criterion '{self.name}' in {suite_path.name})"
        if not isinstance(schema, (dict, bool)):
            kind = {str: "a string", list: "an array"}.get(type(schema), "a number or null")
            raise ConfigError(f"not a valid JSON Schema {used_by}: the top level is {kind}, "
                              "not an object", path=schema_path,
                              key="$", fix='write an object such as {"type": "object", ...}')
        # An unknown `$schema` would be validated by the latest draft with a warning: a typo
        # there must be an error, as everywhere else.
        if isinstance(schema, dict) and "$schema" in schema and (
                not isinstance(schema["$schema"], str)
                or validators.validator_for(schema, default=None) is None):
            raise ConfigError(
                f"unknown `$schema` {json.dumps(schema['$schema'])[:80]} {used_by}",
                path=schema_path, key="$.$schema",
                fix="use a draft this evalgate knows, e.g. "
                    '"https://json-schema.org/draft/2020-12/schema" or '
                    '"http://json-schema.org/draft-07/schema#", or drop `$schema` (2020-12)')
        validator_class = validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except SchemaError as exc:
            # anyOf/oneOf failures ("… is not valid under any of the given schemas") hold the
            # real reason in `context`: follow the branch that got deepest into the schema.
            error = exc
            while error.context:
                error = max(error.context, key=lambda e: len(e.absolute_path))
            value = json.dumps(error.instance, ensure_ascii=False, default=str)
            value = value if len(value) <= 60 else value[:59] + "…"
            reason = error.message
            if reason.startswith(repr(error.instance)):  # "'refund' is not of type 'array'"
                reason = reason[len(repr(error.instance)):].strip()
            elif len(reason) > 200:
                reason = reason[:199] + "…"
            draft = validator_class.META_SCHEMA.get("$schema") or validator_class.__name__
            raise ConfigError(
                f"not a valid JSON Schema {used_by}: the value at {error.json_path}, {value}, "
                f"{reason}", path=schema_path, key=error.json_path,
                fix=f"correct the value at {error.json_path} (the rules are those of {draft}; "
                    "see json-schema.org/understanding-json-schema/reference)") from exc
        return JsonSchemaCompliance(validator=validator_class(schema), extract=self.extract)

    def fingerprint(self, suite_dir: Path) -> dict:
        return {**super().fingerprint(suite_dir),
                "schema_sha256": sha256_file(suite_dir / self.schema_)}


Criterion = Annotated[Union[ExactMatchCriterion, ContainsCriterion, JsonSchemaCriterion],
                      Field(discriminator="metric")]


def check_unique_names(criteria: Sequence[Any]) -> None:
    """A suite's criteria are named uniquely (results, checks and pins are keyed by name)."""
    names = [criterion.name for criterion in criteria]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate criterion names: {', '.join(duplicates)}")


class SuiteConfigBase(StrictModel):
    """The config of a suite file of any kind: its `criteria` are named uniquely. No fields of
    its own, so what a suite dumps (and so its hash) is its kind's fields alone."""

    @model_validator(mode="after")
    def _unique_criteria(self) -> SuiteConfigBase:
        check_unique_names(self.criteria)  # type: ignore[attr-defined]
        return self


class KindCriterion(CriterionBase):
    """A criterion whose per-example scores its suite kind computes (capability, leakage,
    judge): its metric and name are all that decide them (bounds re-decide, never re-score)."""

    def fingerprint(self, suite_dir: Path) -> dict:
        return {"metric": self.metric, "name": self.name}  # type: ignore[attr-defined]
