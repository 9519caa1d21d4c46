"""Runbook "Kyverno decisions": the PolicyReport results about one pod, summarised per policy.

Two report shapes exist (protocols.md §2.4): Kyverno ≥ 1.10 writes one report per resource
(``scope``, an ownerReference and ``audit.kyverno.io/resource.*`` labels point at it, and
results carry no ``resources``); older reports list the resources in ``results[].resources``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from handlers.artifacts import KyvernoSummary, PolicyProblem, PolicyTally
from handlers.redact import redact

RESULTS = ("pass", "fail", "warn", "error", "skip")
_UID_KEY = "audit.kyverno.io/resource.uid"
_NAME_KEY = "audit.kyverno.io/resource.name"
_KIND_KEY = "audit.kyverno.io/resource.kind"


def _is_pod_ref(ref: Any, name: str, uid: str | None) -> bool:
    if not isinstance(ref, Mapping):
        return False
    if uid and ref.get("uid"):
        return bool(ref.get("uid") == uid)
    return ref.get("kind", "Pod") == "Pod" and ref.get("name") == name


def _about_pod(report: Mapping[str, Any], name: str, uid: str | None) -> bool:
    """The per-resource shape: the whole report concerns this pod."""
    if _is_pod_ref(report.get("scope"), name, uid):
        return True
    meta = report.get("metadata") or {}
    if any(_is_pod_ref(o, name, uid) and o.get("kind") == "Pod" for o in meta.get("ownerReferences") or []):
        return True
    tags = {**(meta.get("annotations") or {}), **(meta.get("labels") or {})}
    if uid and tags.get(_UID_KEY):
        return bool(tags[_UID_KEY] == uid)
    return tags.get(_KIND_KEY, "Pod") == "Pod" and tags.get(_NAME_KEY) == name


def results_for_pod(report: Mapping[str, Any], name: str, uid: str | None) -> list[Mapping[str, Any]]:
    results = [r for r in report.get("results") or [] if isinstance(r, Mapping)]
    if _about_pod(report, name, uid):
        return results
    return [r for r in results if any(_is_pod_ref(ref, name, uid) for ref in r.get("resources") or [])]


def summarise(
    reports: Iterable[Mapping[str, Any]], *, pod: str, uid: str | None, guardrail_policy: str
) -> KyvernoSummary:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    problems: list[PolicyProblem] = []
    matched = 0
    for report in reports:
        results = results_for_pod(report, pod, uid)
        matched += bool(results)
        for r in results:
            policy = str(r.get("policy") or "(unnamed policy)")
            outcome = str(r.get("result") or "").lower()
            counts[policy][outcome] += 1
            if outcome in ("fail", "warn", "error"):
                problems.append(
                    PolicyProblem(
                        policy=policy,
                        rule=str(r.get("rule") or ""),
                        result=outcome,
                        message=redact(str(r.get("message") or "")),
                        severity=str(r["severity"]) if r.get("severity") else None,
                    )
                )
    tallies = tuple(PolicyTally(p, dict(c)) for p, c in sorted(counts.items()))
    order = {"fail": 0, "error": 1, "warn": 2}
    problems.sort(key=lambda p: (p.policy != guardrail_policy, order[p.result], p.policy, p.rule))
    return KyvernoSummary(
        reports=matched, policies=tallies, problems=tuple(problems), guardrail_policy=guardrail_policy
    )


def render_text(summary: KyvernoSummary, *, pod: str, namespace: str, reports_in_namespace: int) -> str:
    """The Kyverno artifact file: a per-policy table, then every non-pass result."""
    if not summary.policies:
        return (
            f"No PolicyReport results concern pod {pod} "
            f"({reports_in_namespace} PolicyReports in namespace {namespace}).\n"
            f"{summary.guardrail_policy}: no result for this pod.\n"
        )
    width = max(len("POLICY"), *(len(p.policy) for p in summary.policies))
    lines = [f"{'POLICY':<{width}}  " + "  ".join(f"{r.upper():>5}" for r in RESULTS)]
    for tally in summary.policies:
        mark = "  <- guardrail" if tally.policy == summary.guardrail_policy else ""
        cells = "  ".join(f"{tally.count(r):>5}" for r in RESULTS)
        lines.append(f"{tally.policy:<{width}}  {cells}{mark}")
    guard = summary.guardrail
    lines.append("")
    lines.append(f"{summary.guardrail_policy}: {guardrail_verdict(summary)}")
    if guard is None:
        lines.append(
            "  (no result for this pod: the policy may not match it, or reports are not written yet)"
        )
    if summary.problems:
        lines.append("")
        lines.append("Results other than pass/skip:")
        for p in summary.problems:
            sev = f" [{p.severity}]" if p.severity else ""
            lines.append(f"  {p.result.upper():<5} {p.policy}/{p.rule}{sev}: {p.message}")
    return "\n".join(lines) + "\n"


def guardrail_verdict(summary: KyvernoSummary) -> str:
    guard = summary.guardrail
    if guard is None:
        return "no result"
    if guard.failing:
        return f"{guard.count('fail')} fail, {guard.count('error')} error"
    if guard.count("warn"):
        return f"{guard.count('warn')} warn, {guard.count('pass')} pass"
    return f"admitted ({guard.count('pass')} pass)"
