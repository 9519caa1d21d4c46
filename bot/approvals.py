"""Who may ask and who may approve, and deciding an approval exactly once. No Slack in here:
the surfaces turn button clicks into ``decide`` calls and errors into replies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from bot.store import Approval, ApprovalStatus, Store
from config.settings import ApprovalPolicy, Principals
from handlers.errors import Conflict, NotAllowed, NotFound

GroupMembers = Callable[[str], Awaitable[set[str]]]


def permitted(principals: Principals | None, user: str, user_groups: Iterable[str], channel: str) -> bool:
    """The per-verb ``permissions`` rule: no entry or all lists empty = open; else any match allows."""
    if principals is None or principals.unrestricted:
        return True
    return (
        user in principals.users
        or channel in principals.channels
        or not set(principals.groups).isdisjoint(user_groups)
    )


class Approvers:
    """Configured approvers: users, and members of user groups (looked up, cached briefly)."""

    def __init__(
        self,
        policy: ApprovalPolicy,
        group_members: GroupMembers,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self._lookup = group_members
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def members(self, group: str) -> frozenset[str]:
        """Members of ``group``; one lookup per group per ``group_cache_seconds``, even when asked at once."""
        lock = self._locks.setdefault(group, asyncio.Lock())
        async with lock:
            cached = self._cache.get(group)
            if cached is not None and self._monotonic() < cached[0]:
                return cached[1]
            found = frozenset(await self._lookup(group))
            self._cache[group] = (self._monotonic() + self._policy.group_cache_seconds, found)
            return found

    async def member_groups(self, user: str, groups: Iterable[str]) -> set[str]:
        """Which of ``groups`` the user is in (for ``permitted``). A failed lookup raises, never
        silently reads as "not a member", unless another group already matched."""
        matched: set[str] = set()
        failure: Exception | None = None
        for group in dict.fromkeys(groups):
            try:
                if user in await self.members(group):
                    matched.add(group)
            except Exception as e:
                failure = failure or e
        if failure is not None and not matched:
            raise failure
        return matched

    async def can_approve(self, user: str) -> bool:
        approvers = self._policy.approvers
        if user in approvers.users:
            return True
        return bool(approvers.groups) and bool(await self.member_groups(user, approvers.groups))


async def decide(
    store: Store,
    approvers: Approvers,
    approval_id: str,
    *,
    approve: bool,
    by: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> Approval:
    """Approve or deny on behalf of ``by``. Returns the decided approval to exactly one caller;
    everyone else gets Conflict. The requester may withdraw (deny) but never approve their own."""
    approval = await store.get_approval(approval_id)
    if approval is None:
        raise NotFound("That approval request does not exist (any more).")
    if approve and by == approval.requester:
        raise NotAllowed("You cannot approve your own request.", hint="Ask another approver.")
    if not (by == approval.requester or await approvers.can_approve(by)):
        raise NotAllowed(
            f"You are not an approver for this {approval.kind}.",
            hint="Approvers are set in the config under approvals.approvers.",
        )
    decided = await store.decide(approval_id, approve=approve, by=by, reason=reason, now=now)
    if decided is not None:
        return decided
    raise AlreadyDecided(await store.get_approval(approval_id) or approval)


class AlreadyDecided(Conflict):
    """Someone else decided first, or it expired; ``approval`` is its current state."""

    def __init__(self, approval: Approval) -> None:
        if approval.status in (ApprovalStatus.PENDING, ApprovalStatus.EXPIRED):
            super().__init__(
                f"This {approval.kind} request expired; nothing was changed.",
                hint="Make a new request if it is still needed.",
            )
        else:
            verb = "denied" if approval.status is ApprovalStatus.DENIED else "approved"
            who = f" by <@{approval.decided_by}>" if approval.decided_by else ""
            super().__init__(f"This {approval.kind} request was already {verb}{who}.")
        self.approval = approval
