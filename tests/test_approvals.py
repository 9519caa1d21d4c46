"""Who may ask, who may approve, and that a decision happens exactly once (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.approvals import AlreadyDecided, Approvers, decide, permitted
from bot.store import ApprovalStatus, Store
from config.settings import ApprovalPolicy, Principals
from handlers.errors import Conflict, ExternalError, NotAllowed, NotFound

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = ApprovalPolicy(approvers=Principals(users=["U0LEAD"], groups=["S0SRE"]), group_cache_seconds=60)


class Directory:
    """Slack user groups as the lookup sees them; counts lookups the way Slack's rate limit would."""

    def __init__(self, groups: dict[str, set[str]]) -> None:
        self.groups = groups
        self.lookups = 0
        self.down = False

    async def members(self, group: str) -> set[str]:
        self.lookups += 1
        await asyncio.sleep(0)
        if self.down:
            raise ExternalError("usergroups.users.list failed", service="slack", status=503)
        return set(self.groups.get(group, set()))


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def approvers_for(directory: Directory, ticker: Ticker | None = None) -> Approvers:
    return Approvers(POLICY, directory.members, monotonic=ticker or Ticker())


async def a_restart(store: Store, pod: str = "codex-run-1", ttl: float = 900) -> str:
    approval = await store.create_approval("restart", {"pod": pod, "uid": "u1"}, "U0REQ", "C0ASK", ttl)
    return approval.id


# --- permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principals", "user", "groups", "channel", "allowed"),
    [
        (None, "U1", set(), "C1", True),  # verb not listed: open
        (Principals(), "U1", set(), "C1", True),  # all lists empty: no limit
        (Principals(groups=["S0SRE"]), "U1", {"S0SRE"}, "C1", True),
        (Principals(groups=["S0SRE"]), "U1", {"S0DEV"}, "C1", False),
        (Principals(users=["U1"], groups=["S0SRE"]), "U1", set(), "C1", True),
        (Principals(channels=["C0INC"]), "U1", set(), "C0INC", True),
        (Principals(users=["U2"], channels=["C0INC"]), "U1", set(), "C1", False),
    ],
)
def test_permitted_follows_the_per_verb_policy(
    principals: Principals | None, user: str, groups: set[str], channel: str, allowed: bool
) -> None:
    assert permitted(principals, user, groups, channel) is allowed


async def test_member_groups_feed_permitted() -> None:
    approvers = approvers_for(Directory({"S0SRE": {"U1"}, "S0DEV": {"U2"}}))
    rule = Principals(groups=["S0SRE"])
    assert permitted(rule, "U1", await approvers.member_groups("U1", rule.groups), "C1")
    assert not permitted(rule, "U2", await approvers.member_groups("U2", rule.groups), "C1")


# --- approvers ---------------------------------------------------------------------------------


async def test_approvers_are_listed_users_and_group_members() -> None:
    directory = Directory({"S0SRE": {"U0SRE"}})
    approvers = approvers_for(directory)
    assert await approvers.can_approve("U0LEAD") is True
    assert await approvers.can_approve("U0SRE") is True
    assert await approvers.can_approve("U0INTERN") is False


async def test_group_members_are_cached_briefly() -> None:
    directory, ticker = Directory({"S0SRE": {"U0SRE"}}), Ticker()
    approvers = approvers_for(directory, ticker)
    assert all(await asyncio.gather(*(approvers.can_approve("U0SRE") for _ in range(10))))
    assert directory.lookups == 1  # ten clicks at once, one Slack call
    directory.groups["S0SRE"] = set()  # removed from the group
    ticker.now += 30
    assert await approvers.can_approve("U0SRE") is True  # still within the cache window
    ticker.now += 31
    assert await approvers.can_approve("U0SRE") is False
    assert directory.lookups == 2


async def test_failed_group_lookup_is_an_error_not_a_silent_no() -> None:
    directory = Directory({"S0SRE": {"U0SRE"}})
    directory.down = True
    approvers = approvers_for(directory)
    with pytest.raises(ExternalError):
        await approvers.can_approve("U0SRE")
    assert await approvers.can_approve("U0LEAD") is True  # listed users need no lookup
    directory.down = False
    assert await approvers.can_approve("U0SRE") is True  # failures are not cached


# --- decide ------------------------------------------------------------------------------------


async def test_approver_approves(store: Store) -> None:
    approval_id = await a_restart(store)
    decided = await decide(store, approvers_for(Directory({})), approval_id, approve=True, by="U0LEAD")
    assert decided.status is ApprovalStatus.APPROVED and decided.decided_by == "U0LEAD"
    assert decided.decided_at is not None


async def test_self_approval_is_refused_and_changes_nothing(store: Store) -> None:
    lead_requests = await store.create_approval("restart", {"pod": "p1"}, "U0LEAD", "C0ASK", 900)
    with pytest.raises(NotAllowed, match=r"^You cannot approve your own request\.$"):
        await decide(store, approvers_for(Directory({})), lead_requests.id, approve=True, by="U0LEAD")
    still = await store.get_approval(lead_requests.id)
    assert still is not None and still.status is ApprovalStatus.PENDING


async def test_non_approver_is_refused_and_changes_nothing(store: Store) -> None:
    approval_id = await a_restart(store)
    approvers = approvers_for(Directory({"S0SRE": {"U0SRE"}}))
    for approve in (True, False):
        with pytest.raises(NotAllowed, match="not an approver"):
            await decide(store, approvers, approval_id, approve=approve, by="U0INTERN")
    still = await store.get_approval(approval_id)
    assert still is not None and still.status is ApprovalStatus.PENDING


async def test_requester_may_withdraw_by_denying(store: Store) -> None:
    approval_id = await a_restart(store)
    denied = await decide(
        store, approvers_for(Directory({})), approval_id, approve=False, by="U0REQ", reason="fixed itself"
    )
    assert denied.status is ApprovalStatus.DENIED and denied.reason == "fixed itself"


async def test_two_approvers_at_once_get_one_decision(store: Store) -> None:
    approvers = approvers_for(Directory({"S0SRE": {"U0SRE"}}))
    approval_id = await a_restart(store)
    outcomes = await asyncio.gather(
        decide(store, approvers, approval_id, approve=True, by="U0LEAD"),
        decide(store, approvers, approval_id, approve=True, by="U0SRE"),
        decide(store, approvers, approval_id, approve=True, by="U0SRE"),  # double click
        return_exceptions=True,
    )
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 1 and len(lost) == 2
    assert all(isinstance(e, AlreadyDecided) for e in lost)
    assert f"already approved by <@{won[0].decided_by}>" in str(lost[0])


async def test_late_click_after_expiry_is_a_conflict_and_expiry_still_reported(store: Store) -> None:
    approval = await store.create_approval("restart", {"pod": "p1"}, "U0REQ", "C0ASK", 60, now=T0)
    later = T0 + timedelta(minutes=2)
    with pytest.raises(Conflict, match="expired"):
        await decide(store, approvers_for(Directory({})), approval.id, approve=True, by="U0LEAD", now=later)
    assert [a.id for a in await store.expire_due(later)] == [approval.id]
    with pytest.raises(AlreadyDecided, match="expired") as again:
        await decide(store, approvers_for(Directory({})), approval.id, approve=True, by="U0LEAD", now=later)
    assert again.value.approval.status is ApprovalStatus.EXPIRED


async def test_unknown_approval_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await decide(store, approvers_for(Directory({})), "nosuchid", approve=True, by="U0LEAD")


async def test_approval_still_works_after_the_bot_restarts(database_url: str) -> None:
    before = await Store.open(database_url)
    approval_id = await a_restart(before)
    await before.close()
    after = await Store.open(database_url)
    try:
        decided = await decide(after, approvers_for(Directory({})), approval_id, approve=True, by="U0LEAD")
        assert decided.status is ApprovalStatus.APPROVED
    finally:
        await after.close()
