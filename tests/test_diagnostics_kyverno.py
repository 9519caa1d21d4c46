"""Kyverno PolicyReports: both report shapes, matched to the right pod, summarised per policy."""

from __future__ import annotations

from typing import Any

from handlers.kyverno import render_text, results_for_pod, summarise

POD, UID = "codex-run-7k2xq-codex-stage-1791874650", "9f1c-pod-uid"
GUARD = "codex-privileged-guardrails"


def result(policy: str, outcome: str, rule: str = "r", **extra: Any) -> dict[str, Any]:
    return {"policy": policy, "rule": rule, "result": outcome, "message": f"{policy} {outcome}", **extra}


def per_resource(name: str, uid: str, *results: dict[str, Any], how: str = "scope") -> dict[str, Any]:
    """Kyverno ≥ 1.10: one report per resource, named after its UID."""
    ref = {"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": "argo-workflows", "uid": uid}
    meta: dict[str, Any] = {"name": uid, "namespace": "argo-workflows"}
    report: dict[str, Any] = {
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "PolicyReport",
        "metadata": meta,
    }
    if how == "scope":
        report["scope"] = ref
    elif how == "owner":
        meta["ownerReferences"] = [ref]
    else:
        meta["labels"] = {"audit.kyverno.io/resource.uid": uid, "app.kubernetes.io/managed-by": "kyverno"}
    report["results"] = list(results)
    return report


def legacy(*results: dict[str, Any]) -> dict[str, Any]:
    """Older reports: one per namespace, resources listed per result."""
    return {"kind": "PolicyReport", "metadata": {"name": "polr-ns-argo-workflows"}, "results": list(results)}


def pod_ref(name: str = POD, uid: str = UID) -> list[dict[str, str]]:
    return [{"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": "argo-workflows", "uid": uid}]


def test_per_resource_reports_are_matched_by_scope_owner_or_label() -> None:
    for how in ("scope", "owner", "labels"):
        mine = per_resource(POD, UID, result(GUARD, "pass"), how=how)
        other = per_resource("other-pod", "other-uid", result(GUARD, "fail"), how=how)
        s = summarise([mine, other], pod=POD, uid=UID, guardrail_policy=GUARD)
        assert s.reports == 1, how
        assert s.guardrail is not None and s.guardrail.count("pass") == 1 and not s.guardrail.failing


def test_a_previous_pod_with_the_same_name_but_another_uid_is_not_this_pod() -> None:
    stale = per_resource(POD, "old-uid", result(GUARD, "fail"))
    assert results_for_pod(stale, POD, UID) == []


def test_legacy_shape_keeps_only_results_listing_this_pod() -> None:
    report = legacy(
        result(GUARD, "pass", resources=pod_ref()),
        result(GUARD, "fail", resources=pod_ref("other-pod", "other-uid")),
        result("disallow-latest-tag", "fail", rule="validate-image-tag", resources=pod_ref()),
        result("require-labels", "skip", resources=pod_ref() + pod_ref("other-pod", "other-uid")),
    )
    s = summarise([report], pod=POD, uid=UID, guardrail_policy=GUARD)
    assert {p.policy: dict(p.counts) for p in s.policies} == {
        GUARD: {"pass": 1},
        "disallow-latest-tag": {"fail": 1},
        "require-labels": {"skip": 1},
    }
    assert [(p.policy, p.rule, p.result) for p in s.problems] == [
        ("disallow-latest-tag", "validate-image-tag", "fail")
    ]


def test_both_shapes_together_and_guardrail_problems_come_first() -> None:
    reports = [
        per_resource(
            POD, UID, result(GUARD, "fail", rule="privileged-only-docker"), result("b-policy", "warn")
        ),
        legacy(result("a-policy", "error", resources=pod_ref())),
    ]
    s = summarise(reports, pod=POD, uid=UID, guardrail_policy=GUARD)
    assert s.reports == 2
    assert [p.policy for p in s.problems] == [GUARD, "a-policy", "b-policy"]
    assert s.guardrail is not None and s.guardrail.failing
    assert (s.total("fail"), s.total("error"), s.total("warn")) == (1, 1, 1)


def test_rendered_text_tabulates_policies_and_calls_out_the_guardrail() -> None:
    s = summarise(
        [
            per_resource(
                POD, UID, result(GUARD, "pass"), result(GUARD, "pass"), result("x", "fail", rule="no-x")
            )
        ],
        pod=POD,
        uid=UID,
        guardrail_policy=GUARD,
    )
    text = render_text(s, pod=POD, namespace="argo-workflows", reports_in_namespace=3)
    assert "POLICY" in text and "PASS" in text and "FAIL" in text
    guard_row = next(line for line in text.splitlines() if line.startswith(GUARD))
    assert guard_row.split()[1:6] == ["2", "0", "0", "0", "0"] and "<- guardrail" in guard_row
    assert f"{GUARD}: admitted (2 pass)" in text
    assert "FAIL  x/no-x: x fail" in text


def test_no_result_for_the_pod_says_so_with_the_namespace_count() -> None:
    s = summarise(
        [per_resource("other", "u2", result(GUARD, "pass"))], pod=POD, uid=UID, guardrail_policy=GUARD
    )
    text = render_text(s, pod=POD, namespace="argo-workflows", reports_in_namespace=1)
    assert f"No PolicyReport results concern pod {POD} (1 PolicyReports in namespace argo-workflows)" in text


def test_messages_are_redacted() -> None:
    leaky = result(GUARD, "fail", message="image pull used password=hunter2hunter2")
    s = summarise([per_resource(POD, UID, leaky)], pod=POD, uid=UID, guardrail_policy=GUARD)
    assert "hunter2" not in s.problems[0].message
