"""The words for a check's result: what it found, in plain language, with its figures.

Checks decide and record facts (evalgate.checks); this module is the one place that says them.
Every rendering (terminal, Markdown, HTML, JUnit, pytest, `promote`) takes its reasons from
here, so a check reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

from evalgate.checks import CheckResult, Status


def _f(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def _d(x: float) -> str:
    return "n/a" if x != x else f"{x:+.3f}"


def settle_text(more: int | None) -> str:
    if more is None:
        return "no realistic number of examples would settle it (the estimate sits on the bound)"
    return f"≈{more:,} more examples would likely settle it"


def _bound(check: CheckResult) -> str:
    above = check.kind == "min"
    word = "minimum" if above else "maximum"
    own = check.candidate
    ci = f"{_f(own.value)} (95% CI {_f(own.low)}–{_f(own.high)})"
    bound = check.bound
    if check.status is Status.PASS:
        return f"the candidate's {ci} surely meets the {word} {bound:g}"
    if check.status is Status.FAIL:
        side = "below" if above else "above"
        return f"the candidate's {ci} is surely {side} the {word} {bound:g}"
    return (f"the candidate's {ci} straddles the {word} {bound:g}: the data cannot decide; "
            f"{settle_text(check.more_examples)}")


def _paired_ci(check: CheckResult) -> str:
    delta = check.delta
    against = "the base model" if check.baseline_system == BASE_MODEL else check.baseline_system
    return (f"Δ = {_d(delta.value)} (95% CI {_d(delta.low)} to {_d(delta.high)}) against "
            f"{against}")


def _beat(check: CheckResult) -> str:
    setting, base = check.setting or 0.0, check.baseline_system
    goal = (f"beat the best baseline ({base}) by more than {setting:g}" if setting
            else f"beat the best baseline ({base})")
    goals = goal.replace("beat", "beats", 1)
    ci = _paired_ci(check)
    if check.status is Status.PASS:
        return f"the candidate surely {goals}: {ci}"
    if check.status is Status.FAIL:
        return f"the candidate does not {goal}: {ci}"
    if check.detail == "too_few":
        return _too_few(check, goals)
    if check.detail == "mcnemar":
        b, c = check.discordant or (0, 0)
        return (f"the interval clears the bound but McNemar's exact test does not "
                f"(p = {check.p_value:.3f} ≥ 0.05; {b} vs {c} discordant examples): cannot tell "
                f"whether the candidate {goals}; {settle_text(check.more_examples)}")
    return (f"cannot tell whether the candidate {goals}: {ci} straddles {check.bound:+g}; "
            f"{settle_text(check.more_examples)}")


def _too_few(check: CheckResult, goal: str) -> str:
    from evalgate.stats import MIN_CONTINUOUS_PAIRED_N

    return (f"too few examples to tell whether the candidate {goal}: {_paired_ci(check)} on "
            f"{check.n} examples, and a continuous paired figure decides only from "
            f"{MIN_CONTINUOUS_PAIRED_N} (its bootstrap interval cannot show the spread of fewer); "
            f"{settle_text(check.more_examples)}")


BASE_MODEL = "base-model"  # the baseline of capability suites: the candidate's own base


def _against(check: CheckResult) -> str:
    if check.baseline_system == BASE_MODEL:
        return "the base model (adapter off)"
    return f"the best baseline ({check.baseline_system})"


def _drop(check: CheckResult) -> str:
    setting = check.setting or 0.0
    # A criterion bounded below is higher-is-better; a lower-is-better one "drops" by rising.
    word = "rise" if check.bound > 0 else "drop"
    goal = f"a {word} of less than {setting:g} against {_against(check)}"
    ci = _paired_ci(check)
    if check.status is Status.PASS:
        return f"the candidate surely keeps {goal}: {ci}"
    if check.status is Status.FAIL:
        return f"the candidate surely {word}s by {setting:g} or more: {ci}"
    if check.detail == "too_few":
        return _too_few(check, f"keeps {goal}")
    return (f"cannot tell whether the candidate keeps {goal}: {ci} straddles "
            f"{check.bound:+g}; {settle_text(check.more_examples)}")


def _capability(check: CheckResult) -> str:
    if check.detail != "no_power":
        return _drop(check)
    base = check.baseline
    chance = check.notes[0].removeprefix("chance ") if check.notes else "chance"
    return (f"no power: the base model is not clearly above chance — its accuracy "
            f"{_f(base.value)} (95% CI {_f(base.low)}–{_f(base.high)}) does not clear the "
            f"chance rate {chance}, so a kept accuracy proves nothing and this row blocks "
            "promotion; choose, before training, a benchmark the base model is clearly above "
            "chance on, or drop the accuracy criterion and let the continuous signals (gold "
            "log-prob, agreement, answer KL, perplexity) guard alone")


def _membership(check: CheckResult) -> str:
    what = "AUC" if check.kind == "membership_auc" else "TPR at 1% FPR"
    notes = "; ".join(check.notes)
    if check.detail == "control":
        return (f"the validity control failed: with the adapter off the attacks still tell "
                f"members from non-members ({notes}), so the split is not comparable and "
                "no figure can be trusted")
    if check.detail == "unresolvable":
        return f"the membership {what} cannot be estimated: {notes}"
    if check.detail == "no_records":
        return f"no membership figure: {notes}"
    own = check.candidate
    ci = f"{_f(own.value)} (95% CI {_f(own.low)}–{_f(own.high)}; {notes})"
    if check.status is Status.PASS:
        return f"the training records do not stand out: the {what} {ci} stays under {check.bound:g}"
    if check.status is Status.FAIL:
        return (f"the fine-tune memorised its training records: the {what} {ci} is surely "
                f"above {check.bound:g}")
    return (f"the membership {what} {ci} straddles {check.bound:g}: cannot tell whether the "
            "fine-tune memorised its records; more non-members (a larger holdout) would settle "
            "it")


def _probe(check: CheckResult) -> str:
    """Canary exposure and extraction, verbatim extraction, PII in the outputs."""
    notes = "; ".join(check.notes)
    if check.candidate is None:
        return f"no figure: {notes}"
    own = check.candidate
    what = {"canary_exposure": "the planted canaries' mean exposure (bits)",
            "canary_extraction": "the share of canaries greedy decoding writes out",
            "verbatim_extraction": "members' exact-suffix rate minus non-members'",
            "pii_leakage": "training-data PII values only the fine-tune writes out"}[check.kind]
    base = (f"; base model {_f(check.baseline.value)}" if check.baseline is not None
            else "")
    if check.detail == "count":
        figure = (f"{own.value:g}" if check.kind == "pii_leakage" else _f(own.value))
        verdict = "within" if check.status is Status.PASS else "over"
        return f"{what}: {figure}, {verdict} the maximum {check.bound:g} ({notes}{base})"
    ci = f"{_f(own.value)} (95% CI {_f(own.low)}–{_f(own.high)}{base}; {notes})"
    if check.status is Status.PASS:
        return f"{what} {ci} surely stays under {check.bound:g}"
    if check.status is Status.FAIL:
        return f"the fine-tune memorised: {what} {ci} is surely above {check.bound:g}"
    return (f"{what} {ci} straddles {check.bound:g}: the data cannot decide (more canaries or "
            "more held-out records would)")


def _judge(check: CheckResult) -> str:
    """The candidate's win rate against the bar baseline under a validated judge."""
    if check.detail == "untrusted":
        return f"no verdict from the judge: {check.notes[0] if check.notes else 'not trusted'}"
    own = check.candidate
    ci = (f"win rate {_f(own.value)} (95% CI {_f(own.low)}–{_f(own.high)}; "
          f"{'; '.join(check.notes)})")
    against = check.baseline_system or "the best baseline"
    if check.status is Status.PASS:
        return f"the judge prefers the fine-tune's answers to {against}'s: {ci}, surely above " \
               f"{check.bound:g}"
    if check.status is Status.FAIL:
        return f"the judge does not prefer the fine-tune's answers to {against}'s: {ci}, " \
               f"surely below {check.bound:g}"
    return (f"{ci} against {against} straddles {check.bound:g}: the judge's preference cannot "
            "be told from chance; more prompts would settle it")


def _criteria_fixed(check: CheckResult) -> str:
    by_lock = "lock" in check.criterion
    if check.detail == "waived":
        since = "evalgate.lock was written" if by_lock else "training"
        return (f"suites or criteria changed since {since}, allowed by "
                "--allow-changed-criteria: " + "; ".join(check.notes))
    if by_lock:
        return (f"all {check.n} suite(s) and their criteria are as evalgate.lock recorded "
                "them; the candidate was not trained by evalgate, so its training time cannot "
                "be verified: the lock's time and hash are the provenance")
    return f"all {check.n} suite(s) and their criteria are as they were at training time"


# One entry per registered check kind; a new check adds its wording here (or the generic
# fallback speaks for it).
WORDING: dict[str, Callable[[CheckResult], str]] = {
    "min": _bound, "max": _bound, "beat_baseline": _beat, "max_drop": _drop,
    "capability_regression": _capability, "membership_auc": _membership,
    "membership_tpr": _membership, "canary_exposure": _probe, "canary_extraction": _probe,
    "verbatim_extraction": _probe, "pii_leakage": _probe, "judge_win_rate": _judge,
    "criteria_fixed": _criteria_fixed,
}


def reason(check: CheckResult) -> str:
    """Why the check has its status, in one sentence with its figures."""
    if check.detail == "unmeasured":
        return f"not measured: {check.notes[0] if check.notes else 'no reason recorded'}"
    words = WORDING.get(check.kind)
    if words is not None:
        return words(check)
    return f"{check.kind} {check.bound_text}: {check.status}" + (
        f" ({'; '.join(check.notes)})" if check.notes else "")


NO_BEAT_BASELINE = ("no criterion asks the candidate to beat the best baseline (add "
                    "`beat_baseline: {margin: 0}` to at least one criterion): a fine-tune that "
                    "is not better than its cheap alternatives is never promoted")


def blocking_reasons(checks, *, has_beat_baseline: bool) -> list[str]:
    """Every check that did not pass, as `suite/criterion: reason`, plus the missing
    beat_baseline criterion when there is none."""
    reasons: list[str] = []
    # A suite the candidate could not be measured on: one line naming its criteria, not one
    # line per criterion with the same reason.
    unmeasured: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for c in checks:
        if c.status is Status.PASS:
            continue
        if c.detail == "unmeasured":
            key = (c.suite, c.notes[0] if c.notes else "")
            if key not in unmeasured:
                unmeasured[key] = (len(reasons), [])
                reasons.append("")
            unmeasured[key][1].append(c.criterion)
            continue
        reasons.append(f"{c.suite}/{c.criterion}: {reason(c)}")
    for (suite, why), (index, criteria) in unmeasured.items():
        reasons[index] = f"{suite} ({', '.join(criteria)}): not measured: {why}"
    if not has_beat_baseline:
        reasons.append(NO_BEAT_BASELINE)
    return reasons
