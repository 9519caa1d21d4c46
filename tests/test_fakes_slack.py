"""The fake Slack and the request driver, exercised with the unmodified slack_sdk / slack_bolt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack import FakeSlack
from tests.fakes.slack_driver import SlackDriver

SECRET = "test-signing-secret"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.token, base_url=slack.url, timeout=5)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def test_thread_shows_parent_reply_and_latest_edit(slack: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C1", text="validate p1", blocks=[section("*running*")])
    await client.chat_postMessage(channel="C1", thread_ts=parent["ts"], text="step 1 ok")
    await client.chat_postMessage(channel="C2", text="elsewhere")
    await client.chat_update(channel="C1", ts=parent["ts"], text="validate p1", blocks=[section("*passed*")])

    thread = slack.thread("C1", parent["ts"])
    assert [m.text for m in thread] == ["validate p1", "step 1 ok"]
    assert "*passed*" in thread[0].visible_text and "*running*" not in thread[0].visible_text
    assert [v["blocks"][0]["text"]["text"] for v in thread[0].versions] == ["*running*", "*passed*"]
    assert float(thread[1].ts) > float(thread[0].ts)
    assert [m.text for m in slack.messages("C2")] == ["elsewhere"]


async def test_ephemeral_is_seen_only_by_its_user(slack: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.chat_postEphemeral(channel="C1", user="U1", text="only you can see this")
    assert resp["message_ts"] and "ts" not in resp.data
    assert [e.text for e in slack.ephemerals(user="U1")] == ["only you can see this"]
    assert slack.ephemerals(user="U2") == [] and slack.messages() == []


async def test_files_upload_v2_lands_in_the_thread(slack: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C1", text="diagnostics")
    resp = await client.files_upload_v2(
        channel="C1",
        thread_ts=parent["ts"],
        content="dockerd: ready\n",
        filename="daemon.log",
        title="Daemon log",
        initial_comment="daemon logs, last 30m",
    )
    assert resp["file"]["title"] == "Daemon log"
    [file] = slack.files("C1", thread_ts=parent["ts"])
    assert (file.filename, file.title, file.content) == ("daemon.log", "Daemon log", b"dockerd: ready\n")
    shared = slack.thread("C1", parent["ts"])[-1]
    assert shared.files == [file] and shared.text == "daemon logs, last 30m"
    order = [c.method for c in slack.calls()]
    assert order[-3:] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]


async def test_several_files_in_one_upload_share_one_message(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel="C1", text="bundle")
    uploads: list[dict[str, Any]] = [
        {"filename": "du.txt", "content": "12G\t/var/lib/docker\n", "title": "Volume usage"},
        {"filename": "workflow.log", "content": b"pod-a: hello\n", "title": "Workflow logs"},
    ]
    await client.files_upload_v2(file_uploads=uploads, channel="C1", thread_ts=parent["ts"])
    files = slack.files("C1", thread_ts=parent["ts"])
    assert [(f.title, f.content) for f in files] == [
        ("Volume usage", b"12G\t/var/lib/docker\n"),
        ("Workflow logs", b"pod-a: hello\n"),
    ]
    assert [len(m.files) for m in slack.thread("C1", parent["ts"])] == [0, 2]


async def test_upload_step_failure_surfaces(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.fail("upload", times=1)
    with pytest.raises(Exception, match="Failed to upload a file"):
        await client.files_upload_v2(channel="C1", content="x", filename="x.log")
    assert slack.files() == []


async def test_rate_limit_is_a_429_with_retry_after_then_recovers(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C1", text="hi")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.response["error"] == "ratelimited"
    await client.chat_postMessage(channel="C1", text="hi")
    assert [m.text for m in slack.messages("C1")] == ["hi"]


async def test_opt_in_retry_handler_posts_after_a_429(slack: FakeSlack) -> None:
    retrying = AsyncWebClient(
        token=slack.token,
        base_url=slack.url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.rate_limit("chat.postMessage", retry_after=0)
    await retrying.chat_postMessage(channel="C1", text="eventually")
    assert [m.text for m in slack.messages("C1")] == ["eventually"]
    assert [c.status for c in slack.calls("chat.postMessage")] == [429, 200]


async def test_injected_error_hits_only_the_named_channel(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.fail("chat.postMessage", "channel_not_found", channel="C9")
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C9", text="x")
    assert info.value.response["error"] == "channel_not_found"
    await client.chat_postMessage(channel="C1", text="fine")
    assert [m.channel for m in slack.messages()] == ["C1"]


async def test_unknown_method_and_bad_token_are_refused(slack: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        await client.conversations_replies(channel="C1", ts="1.0")
    assert info.value.response["error"] == "unknown_method"
    assert slack.unknown_methods == ["conversations.replies"]
    stranger = AsyncWebClient(token="xoxb-wrong", base_url=slack.url)
    with pytest.raises(SlackApiError) as info:
        await stranger.chat_postMessage(channel="C1", text="x")
    assert info.value.response["error"] == "invalid_auth" and slack.messages() == []


@pytest.mark.parametrize(
    "blocks",
    [
        [section("x")] * 51,
        [section("x" * 3001)],
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    ],
    ids=["51 blocks", "section over 3000", "header over 150"],
)
async def test_blocks_over_slack_limits_are_invalid(
    slack: FakeSlack, client: AsyncWebClient, blocks: list[dict[str, Any]]
) -> None:
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C1", text="t", blocks=blocks)
    assert info.value.response["error"] == "invalid_blocks" and slack.messages() == []


async def test_lookups_permalink_delete_and_modal(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.set_group("S0SRE", ["U1", "U2"])
    slack.add_user("U1", "alice", real_name="Alice A")
    assert (await client.usergroups_users_list(usergroup="S0SRE"))["users"] == ["U1", "U2"]
    assert (await client.users_info(user="U1"))["user"]["real_name"] == "Alice A"
    assert (await client.users_info(user="U0OTHER"))["user"]["id"] == "U0OTHER"
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.users_info(user="B0BOT")
    with pytest.raises(SlackApiError, match="no_such_subteam"):
        await client.usergroups_users_list(usergroup="S0NOPE")
    posted = await client.chat_postMessage(channel="C1", text="x")
    link = await client.chat_getPermalink(channel="C1", message_ts=posted["ts"])
    assert link["permalink"].endswith("/archives/C1/p" + posted["ts"].replace(".", ""))
    await client.chat_delete(channel="C1", ts=posted["ts"])
    assert slack.messages("C1") == []
    view = {"type": "modal", "callback_id": "deny", "title": {"type": "plain_text", "text": "Deny"}}
    opened = await client.views_open(trigger_id="123.456", view=view)
    assert slack.views()[0].callback_id == "deny" and opened["view"]["id"] == slack.views()[0].id


async def test_response_url_posts_are_recorded(slack: FakeSlack) -> None:
    hook = AsyncWebhookClient(slack.response_url("cmd-1"))
    resp = await hook.send(text="working on it", replace_original=False)
    assert resp.status_code == 200
    assert [r.text for r in slack.responses("cmd-1")] == ["working on it"]


async def test_bound_response_url_replies_ephemerally_in_channel_or_replaces(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    approval = await client.chat_postMessage(channel="C1", text="approve restart?")
    command = AsyncWebhookClient(slack.response_url("cmd", channel="C1", user="U1"))
    await command.send(text="only for you")
    await command.send(text="for everyone", response_type="in_channel")
    click = AsyncWebhookClient(slack.response_url("act", channel="C1", user="U2", message_ts=approval["ts"]))
    await click.send(text="approved by U2")
    assert [e.text for e in slack.ephemerals(user="U1")] == ["only for you"]
    assert [m.text for m in slack.messages("C1")] == ["approved by U2", "for everyone"]
    await click.send(text="", delete_original=True)
    assert [m.text for m in slack.messages("C1")] == ["for everyone"]


async def test_messages_people_wrote_can_be_replied_to(slack: FakeSlack, client: AsyncWebClient) -> None:
    human = slack.post_as("U1", "C1", "the build is stuck")
    await client.chat_postMessage(channel="C1", thread_ts=human.ts, text="looking")
    with pytest.raises(SlackApiError, match="thread_not_found"):
        await client.chat_postMessage(channel="C1", thread_ts="1.000000", text="lost")
    assert [(m.user, m.text) for m in slack.thread("C1", human.ts)] == [
        ("U1", "the build is stuck"),
        ("U0BOT", "looking"),
    ]


async def test_wait_for_wakes_on_a_request_and_times_out_clearly(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    task = asyncio.create_task(client.chat_postMessage(channel="C1", text="later"))
    [msg] = await slack.wait_for(lambda: slack.messages("C1"), timeout=5)
    assert msg.text == "later"
    await task
    with pytest.raises(AssertionError, match=r"not seen within 0.1s; last calls: chat.postMessage"):
        await slack.wait_for(lambda: slack.messages("C2"), timeout=0.1)


# ---- the driver ----------------------------------------------------------------------------


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    """A bare server that records each request and answers 200/401 by slack_sdk's verifier."""
    seen: list[tuple[bytes, dict[str, str]]] = []
    verifier = SignatureVerifier(SECRET)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((body, dict(request.headers)))
        return web.Response(status=200 if verifier.is_valid_request(body, dict(request.headers)) else 401)

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    await runner.cleanup()


async def test_driver_signatures_verify_and_forgeries_do_not(
    echo_server: tuple[str, list[tuple[bytes, dict[str, str]]]],
) -> None:
    url, seen = echo_server
    async with SlackDriver(url, SECRET) as driver:
        status, _, elapsed = await driver.command("validate p1")
        assert status == 200 and elapsed > 0
        assert (await driver.command("validate p1", bad_signature=True)).status == 401
        assert (await driver.command("validate p1", stale=True)).status == 401
        assert (await driver.command("validate p1", unsigned=True)).status == 401
        first = await driver.command("restart p1", trigger_id="42.1.abc")
        again = await driver.retry(first, retry_num=2, reason="http_timeout")
    assert again.status == 200 and seen[-1][0] == seen[-2][0]
    assert b"trigger_id=42.1.abc" in seen[-1][0]
    assert seen[-1][1]["X-Slack-Retry-Num"] == "2" and seen[-1][1]["X-Slack-Retry-Reason"] == "http_timeout"
    assert "X-Slack-Retry-Num" not in seen[-2][1]


async def test_bolt_app_receives_command_click_and_modal(slack: FakeSlack) -> None:
    app = AsyncApp(client=AsyncWebClient(token=slack.token, base_url=slack.url), signing_secret=SECRET)
    got: dict[str, Any] = {}

    @app.command("/codex")
    async def on_command(ack: Any, command: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        await respond("on it")
        button = {
            "type": "button",
            "action_id": "restart.approve",
            "value": "ref-7",
            "text": {"type": "plain_text", "text": "Approve"},
        }
        await client.chat_postMessage(
            channel=command["channel_id"],
            text=command["text"],
            blocks=[{"type": "actions", "block_id": "a", "elements": [button]}],
        )

    @app.action("restart.approve")
    async def on_click(ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        got["click"] = (body["user"]["id"], action["value"], body["container"]["message_ts"])
        await respond(text=f"approved by <@{body['user']['id']}>", replace_original=True)

    @app.view("deny")
    async def on_submit(ack: Any, view: dict[str, Any]) -> None:
        await ack()
        got["reason"] = view["state"]["values"]["reason"]["text"]["value"], view["private_metadata"]

    runner = web.AppRunner(app.web_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with SlackDriver(
            f"http://127.0.0.1:{runner.addresses[0][1]}", SECRET, response_urls=slack.response_url
        ) as driver:
            assert (await driver.command("restart p1", bad_signature=True)).status == 401
            reply = await driver.command("restart p1", channel_id="C0OPS")
            assert reply.status == 200
            [msg] = await slack.wait_for(lambda: slack.messages("C0OPS"))
            [said] = await slack.wait_for(lambda: slack.ephemerals(user="U0USER"))
            assert said.text == "on it" and said.channel == "C0OPS"
            assert (await driver.click(msg, "restart.approve", user_id="U0APPROVER")).status == 200
            await slack.wait_for(lambda: msg.edits == 1)
            assert msg.visible_text == "approved by <@U0APPROVER>" and msg.blocks == []
            sub = await driver.view_submission(
                "deny", {"reason": {"text": "not now"}}, private_metadata="ref-7"
            )
            assert sub.status == 200
    finally:
        await runner.cleanup()
    assert got == {"click": ("U0APPROVER", "ref-7", msg.ts), "reason": ("not now", "ref-7")}
