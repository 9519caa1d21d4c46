"""Who may run which verb (config ``permissions``): any listed user, group member or channel."""

from __future__ import annotations

from bot.approvals import Approvers, permitted
from config.settings import Policy
from handlers.errors import NotAllowed


class Access:
    def __init__(self, policy: Policy, approvers: Approvers) -> None:
        self._policy = policy
        self._approvers = approvers  # its user-group cache serves permissions too

    async def check(self, verb: str, *, user: str, channel: str) -> None:
        principals = self._policy.permissions.get(verb)
        if principals is None or principals.unrestricted:
            return
        member_of = await self._approvers.member_groups(user, principals.groups)
        if permitted(principals, user=user, user_groups=member_of, channel=channel):
            return
        who = [f"<@{u}>" for u in principals.users] + [f"<!subteam^{g}>" for g in principals.groups]
        where = [f"<#{c}>" for c in principals.channels]
        allowed = ", ".join(who + ([f"anyone in {', '.join(where)}"] if where else []))
        raise NotAllowed(
            f"You are not allowed to run `{verb}`.", hint=f"Allowed: {allowed}. Ask one of them."
        )
