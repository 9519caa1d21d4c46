"""Who may run which verb (config ``permissions``): any listed user, group member or channel."""

from __future__ import annotations

from bot.approvals import GroupDirectory, permitted
from bot.surface import Surface
from config.settings import Policy
from handlers.errors import NotAllowed


class Access:
    def __init__(self, policy: Policy, groups: GroupDirectory) -> None:
        self._policy = policy
        self._groups = groups

    async def check(self, verb: str, *, user: str, channel: str, surface: Surface) -> None:
        principals = self._policy.permissions.get(verb)
        if principals is None or principals.unrestricted:
            return
        member_of = await self._groups.groups_of(user, principals.groups, surface)
        if permitted(principals, user=user, user_groups=member_of, channel=channel):
            return
        who = [f"<@{u}>" for u in principals.users] + [f"<!subteam^{g}>" for g in principals.groups]
        where = [f"<#{c}>" for c in principals.channels]
        allowed = ", ".join(who + ([f"anyone in {', '.join(where)}"] if where else []))
        raise NotAllowed(f"You are not allowed to run `{verb}`.", hint=f"Allowed: {allowed}. Ask one of them.")
