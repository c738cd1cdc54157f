"""The web inbox end to end in headless Chromium (Debian's `chromium`, driven by Playwright) against
the real hub over real HTTP, with Telegram enabled against the fake Bot API server: messages come in
through the real webhook with Telegram's secret header, and replies leave through python-telegram-bot
to the fake, which records them. Sign in, a new message and its real draft (bundled model) arrive
live, the owner edits and approves and Telegram receives the edited text once; reject, regenerate
with a tone and with the owner's own instruction, a free-text reply and a failed one; reconnection
after the socket drops; a phone-sized layout; message text that looks like HTML stays text.

Playwright is imported, never skipped: CI installs it (`.[test]`) and chromium (`make system-deps`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.async_api import async_playwright, expect

from hub.brain_services import BrainServices
from hub.events import AI_READY
from hub.settings import Settings
from hub.state import BUS
from storage.models import Conversation, Message, Suggestion, SuggestionStatus, new_uid
from tests.channels.fakes.telegram_api import JANE, FakeTelegram, message_update
from tests.channels.fakes.telegram_webhooks import CUSTOMER, deliver, telegram_settings
from tests.conftest import Hub, make_settings, start_hub

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-dev-shm-usage"]
MODEL_TIMEOUT_MS = 180_000  # a draft from the bundled model on a busy machine
QUESTION = "Hi! Can you send me the invoice for the portrait session today?"
expect.set_options(timeout=10_000)

URGENT_AND_RISKY = {
    "triage": {"priority": "urgent", "suggested_response_time": "within 1 hour", "emotional_tone": "concerned"},
    "risk": {"scam_risk": 0.1, "freeloader_score": 0.62, "time_waste_score": 0.1, "combined_risk": 0.5,
             "recommendation": "Proceed with caution - high freeloader risk: state your rate before doing any work"},
    "needs_reply": True,
}


class Browser:
    """One page on the hub, recording what should never happen: dialogs, script errors, CSP refusals."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.dialogs: list[str] = []
        self.problems: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)

    async def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def _console(self, message: Any) -> None:
        if message.type == "error" and ("Content Security Policy" in message.text or "Refused" in message.text):
            self.problems.append(message.text)

    async def sign_in(self, key: str) -> None:
        await self.page.goto(self.base_url)
        await self.page.get_by_label("API key").fill(key)
        await self.page.get_by_role("button", name="Sign in").click()

    def row(self, name: str) -> Any:
        return self.page.locator("#list button.conv", has_text=name)

    def section(self, title: str) -> Any:
        return self.page.locator(".list-section", has=self.page.get_by_role("heading", name=title))

    async def wait_live(self, hub: Hub) -> None:
        await expect(self.page.locator("#live-status")).to_have_text("Live")
        assert hub.app[BUS].subscriber_count >= 1

    def assert_clean(self) -> None:
        assert self.dialogs == [] and self.problems == []


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def tg_settings(tmp_path, database_url, fake) -> Settings:
    return make_settings(tmp_path, database_url, server={"public_url": "https://hub.example"},
                         channels={"telegram": telegram_settings(fake)})


@pytest.fixture
async def tg_hub(tg_settings, clock) -> AsyncIterator[Hub]:
    """The hub with Telegram enabled and no models (drafts are stored as the drafting step would)."""
    running = await start_hub(tg_settings, clock)
    yield running
    await running.client.close()


@pytest.fixture
async def tg_brain_hub(tg_settings, clock, bundled_llm, shared_embedder) -> AsyncIterator[Hub]:
    """The hub with Telegram enabled and the real bundled models: the worker drafts for real."""
    brain = BrainServices(tg_settings, llm=bundled_llm, embedder=shared_embedder)
    running = await start_hub(tg_settings, clock, brain=brain)
    yield running
    await running.client.close()


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    assert CHROMIUM.exists(), "needs Debian's chromium at /usr/bin/chromium (make system-deps)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        await browser.close()


async def open_page(chromium: Any, hub: Hub, **context_options: Any) -> Browser:
    context = await chromium.new_context(**context_options)
    context.set_default_timeout(10_000)
    return Browser(await context.new_page(), str(hub.client.make_url("/")))


async def customer_writes(hub: Hub, text: str, sender: dict[str, Any] = JANE) -> tuple[int, int]:
    """A Telegram update through the real webhook with the secret header: (conversation id, message id)."""
    assert await deliver(hub, message_update(text, sender=sender)) == 200
    row = await hub.db.first(sa.select(Message.conversation_id, Message.id).where(Message.text == text))
    return row.conversation_id, row.id


def texts_sent_to(fake: FakeTelegram, chat_id: int) -> list[str]:
    """Every sendMessage to a chat the fake received, answered or refused."""
    return [call.params["text"] for call in fake.calls_to("sendMessage") if str(call.params["chat_id"]) == str(chat_id)]


async def stored_draft(hub: Hub, clock: Any, conversation_id: int, message_id: int, body: str, *,
                       analysis: dict[str, Any] | None = None) -> int:
    """What the drafting step leaves behind, without a model: the message's analysis, a pending
    draft (older ones superseded) and the ai_ready event."""
    def store(conn: sa.Connection) -> int:
        if analysis is not None:
            conn.execute(sa.update(Message).where(Message.id == message_id).values(analysis=analysis))
        conn.execute(sa.update(Suggestion).where(Suggestion.conversation_id == conversation_id,
                                                 Suggestion.status == SuggestionStatus.PENDING)
                     .values(status=SuggestionStatus.SUPERSEDED))
        return conn.execute(sa.insert(Suggestion).values(
            uid=new_uid(), conversation_id=conversation_id, reply_to_message_id=message_id, status="pending",
            body=body, confidence=0.8, analysis=analysis, context_used=["conversation_history"],
            reasoning="They asked a direct question.", model_metadata={"provider": "replydesk"},
            created_at=clock.now())).inserted_primary_key[0]

    suggestion_id = await hub.db.write(store)
    hub.app[BUS].publish(AI_READY, conversation_id=conversation_id, suggestion_id=suggestion_id, confidence=0.8)
    return suggestion_id


async def suggestions_of(hub: Hub, conversation_id: int) -> list[sa.Row]:
    return await hub.db.rows(sa.select(Suggestion).where(Suggestion.conversation_id == conversation_id)
                             .order_by(Suggestion.id))


async def pending_of(hub: Hub, conversation_id: int) -> sa.Row:
    (pending,) = [s for s in await suggestions_of(hub, conversation_id) if s.status == SuggestionStatus.PENDING]
    return pending


async def test_a_live_message_is_drafted_edited_approved_and_sent_once(tg_brain_hub, fake, chromium, tmp_path):
    hub = tg_brain_hub
    await customer_writes(hub, "Thanks, talk soon", sender={**JANE, "id": 1002, "first_name": "Ana",
                                                            "last_name": "Lima", "username": "ana"})
    browser = await open_page(chromium, hub)
    page = browser.page

    await browser.sign_in("rd_not-a-real-key")
    await expect(page.get_by_role("alert")).to_contain_text("did not accept this API key")
    await browser.sign_in(hub.api_key)
    await expect(browser.section("Needs reply").locator("button.conv")).to_have_count(1)
    await expect(browser.row("Ana Lima")).to_contain_text("Telegram")
    await browser.wait_live(hub)
    await page.evaluate("window.notReloaded = true")

    conversation_id, _ = await customer_writes(hub, QUESTION)  # no reload: the page hears of it on /ws
    await expect(browser.section("Needs reply").locator("button.conv").first).to_contain_text("Jane Doe")
    await expect(browser.row("Jane Doe")).to_contain_text("New")
    await browser.row("Ana Lima").focus()
    await page.keyboard.press("ArrowUp")
    await expect(browser.row("Jane Doe")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Jane Doe")).to_be_visible()
    await expect(page.locator(".msg-in")).to_contain_text(QUESTION)

    await hub.worker.run_until_idle()  # the real brain: analysis, then a pending draft, then ai_ready
    drafted = await pending_of(hub, conversation_id)
    await expect(page.locator(".draft-body")).to_have_text(drafted.body.strip())
    await expect(browser.row("Jane Doe")).to_contain_text("Draft ready")
    await page.screenshot(path=str(tmp_path / "desktop-draft.png"))

    edited = "Hi Jane, the invoice is attached. Paid within 30 days, please."
    await page.get_by_role("button", name="Edit").click()
    await page.get_by_label("Edit the reply").fill(edited)
    await page.get_by_role("button", name="Approve edited reply").click()

    await expect(page.locator("#notice")).to_have_text("Reply sent successfully")
    await expect(page.locator(".msg-out")).to_contain_text(edited)
    await expect(page.locator(".draft")).to_be_hidden()
    await expect(browser.section("Waiting for them")).to_contain_text("Jane Doe")
    await hub.worker.run_until_idle()  # the outbox job that backs the send must not send again
    assert texts_sent_to(fake, CUSTOMER) == [edited]
    stored = await hub.db.first(sa.select(Suggestion).where(Suggestion.id == drafted.id))
    assert stored.status == SuggestionStatus.SENT and stored.edited_body == edited
    assert await page.evaluate("window.notReloaded") is True

    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_label("API key")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0
    browser.assert_clean()


async def test_reject_regenerate_reconnect_and_free_text_replies(tg_brain_hub, clock, fake, chromium):
    hub = tg_brain_hub
    conversation_id, message_id = await customer_writes(hub, "What are your rates for a weekend shoot?")
    first = await stored_draft(hub, clock, conversation_id, message_id, "Cheap!", analysis=URGENT_AND_RISKY)
    browser = await open_page(chromium, hub)
    page = browser.page
    await browser.sign_in(hub.api_key)
    await expect(browser.row("Jane Doe").locator(".badge-priority")).to_have_text("Urgent")
    await browser.row("Jane Doe").click()
    await expect(page.locator(".thread-head .badge-priority")).to_have_text("Urgent")
    await expect(page.locator(".thread-head .badge-risk")).to_have_text("Freeloader risk")
    await expect(page.locator(".thread-head .badge-channel")).to_have_text("Telegram")

    await page.get_by_role("button", name="Reject").click()
    await page.get_by_label("Why reject this draft? (optional)").fill("Too casual")
    await page.get_by_role("button", name="Reject draft").click()
    await expect(page.locator("#notice")).to_have_text("Draft rejected.")
    await expect(page.locator(".draft")).to_be_hidden()
    rejected = (await suggestions_of(hub, conversation_id))[0]
    assert rejected.id == first and rejected.rejection_reason == "Too casual"

    await browser.wait_live(hub)
    hub.app[BUS].close()  # the hub drops every socket: the page reconnects and catches up
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
    await browser.wait_live(hub)
    second = await stored_draft(hub, clock, conversation_id, message_id, "My rates start at 80 EUR an hour.")
    await expect(page.locator(".draft-body")).to_have_text("My rates start at 80 EUR an hour.")

    await regenerate(page, {"tone": "more_formal", "custom_prompt": None, "message_id": message_id},
                     tone="More formal")
    third = await pending_of(hub, conversation_id)
    assert third.tone == "more_formal" and third.id != second
    await expect(page.locator(".draft-body")).to_have_text(third.body.strip())

    await page.get_by_label("Tone").select_option(label="Custom instruction…")
    await page.get_by_role("button", name="Regenerate").click()
    await expect(page.locator(".draft .error")).to_have_text("Write the instruction for the new draft first.")
    await page.get_by_label("Instruction for the new draft").fill("Mention the Saturday discount")
    await regenerate(page, {"tone": None, "custom_prompt": "Mention the Saturday discount", "message_id": message_id})
    fourth = await pending_of(hub, conversation_id)
    assert fourth.id != third.id
    await expect(page.locator(".draft-body")).to_have_text(fourth.body.strip())

    await page.get_by_role("button", name="Edit").click()
    await page.get_by_label("Edit the reply").fill("Half-written edit")
    await stored_draft(hub, clock, conversation_id, message_id, "A newer draft")  # arrives while editing
    await expect(page.locator(".draft-body")).to_have_text("A newer draft")
    await expect(page.get_by_label("Write your own reply")).to_have_value("Half-written edit")

    await page.get_by_label("Write your own reply").fill("Let me call you instead.")
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.locator("#notice")).to_have_text("Custom reply sent successfully")
    await expect(page.locator(".msg-out")).to_contain_text("Let me call you instead.")
    await expect(page.get_by_label("Write your own reply")).to_have_value("")
    assert texts_sent_to(fake, CUSTOMER) == ["Let me call you instead."]

    fake.fail("sendMessage", description="Bad Request: chat not found")
    await page.get_by_label("Write your own reply").fill("And one more thing.")
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.locator(".reply .error")).to_contain_text("chat not found", ignore_case=True)
    await expect(page.locator(".thread-error")).to_contain_text("chat not found", ignore_case=True)
    await expect(page.get_by_label("Write your own reply")).to_have_value("And one more thing.")
    assert texts_sent_to(fake, CUSTOMER) == ["Let me call you instead.", "And one more thing."]
    browser.assert_clean()


async def regenerate(page: Any, expected_body: dict[str, Any], tone: str | None = None) -> None:
    """Ask for a new draft from the page (the real model answers) and check what the page asked for."""
    if tone is not None:
        await page.get_by_label("Tone").select_option(label=tone)
    async with page.expect_response("**/regenerate", timeout=MODEL_TIMEOUT_MS) as answer:
        await page.get_by_role("button", name="Regenerate").click()
    response = await answer.value
    assert response.status == 200, await response.text()
    assert response.request.post_data_json == expected_body
    await expect(page.locator("#notice")).to_have_text("A new draft is ready.")


async def test_a_phone_sees_one_pane_at_a_time(tg_hub, clock, chromium, tmp_path):
    hub = tg_hub
    conversation_id, message_id = await customer_writes(hub, "Are you free on Friday?")
    await stored_draft(hub, clock, conversation_id, message_id, "Yes, Friday works. Morning or afternoon?",
                       analysis=URGENT_AND_RISKY)
    browser = await open_page(chromium, hub, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = browser.page
    await browser.sign_in(hub.api_key)
    await expect(browser.row("Jane Doe")).to_be_visible()
    await expect(page.locator("#thread")).to_be_hidden()
    await page.screenshot(path=str(tmp_path / "phone-list.png"))
    box = await page.locator("#list-pane").bounding_box()
    assert box is not None and box["x"] == 0 and box["width"] == 390
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen

    await browser.row("Jane Doe").tap()
    await expect(page.get_by_role("heading", name="Jane Doe")).to_be_focused()
    await expect(page.locator("#list-pane")).to_be_hidden()
    await expect(page.get_by_label("Write your own reply")).to_be_visible()
    for button in ("Approve and send", "Edit", "Reject", "Regenerate"):
        control = await page.get_by_role("button", name=button, exact=True).bounding_box()
        assert control is not None and control["x"] >= 0 and control["x"] + control["width"] <= 390, button
    await page.screenshot(path=str(tmp_path / "phone-thread.png"))
    await page.get_by_role("button", name="Conversations").tap()
    await expect(browser.row("Jane Doe")).to_be_focused()
    await expect(page.locator("#thread")).to_be_hidden()

    await browser.row("Jane Doe").tap()
    await page.get_by_role("button", name="Archive").tap()
    await page.get_by_label("Archive reason (optional)").fill("Booked elsewhere")
    await page.get_by_role("button", name="Archive conversation").tap()
    await expect(page.locator("#notice")).to_have_text("Conversation archived.")
    await expect(page.locator(".thread-head .badge-status")).to_have_text("Archived")
    await page.go_back()  # the browser's back button returns to the list too
    await expect(browser.section("Needs reply")).to_contain_text("Nothing needs a reply.")
    await page.get_by_label("Show archived").check()
    await expect(browser.section("Archived")).to_contain_text("Jane Doe")
    archived = await hub.db.first(sa.select(Conversation.archive_reason).where(Conversation.id == conversation_id))
    assert archived.archive_reason == "Booked elsewhere"
    browser.assert_clean()


async def test_message_text_that_looks_like_html_is_shown_as_text(tg_hub, clock, chromium):
    hub = tg_hub
    payload = "<img src=x onerror=alert(1)>"
    eve = {**JANE, "id": 1003, "first_name": "<b>Eve</b>", "last_name": "<i>X</i>", "username": "eve"}
    conversation_id, message_id = await customer_writes(hub, payload, sender=eve)
    await stored_draft(hub, clock, conversation_id, message_id, "<script>alert(2)</script>")
    browser = await open_page(chromium, hub)
    page = browser.page
    await browser.sign_in(hub.api_key)
    await browser.row("<b>Eve</b>").click()
    await expect(page.locator(".msg-in .msg-body")).to_have_text(payload)
    await expect(page.locator(".draft-body")).to_have_text("<script>alert(2)</script>")
    await expect(page.get_by_role("heading", name="<b>Eve</b> <i>X</i>")).to_be_visible()
    assert await page.locator("#app-view img, #app-view b, #app-view i, #app-view script").count() == 0
    browser.assert_clean()


BADGE_CASES = """async () => {
  const b = await import("/static/badges.js");
  const live = await import("/static/live.js");
  const urgent = {triage: {priority: "urgent", suggested_response_time: "within 1 hour"}};
  return {
    nothing: [b.priorityBadge(null, null), b.riskBadge(null), b.toneBadge(null), b.noReplyBadge({})],
    unknownUrgency: b.priorityBadge(null, {urgency_level: null, sentiment: null}),
    fromTriage: b.priorityBadge(urgent, {urgency_level: "low"}),
    fromDraft: b.priorityBadge(null, {urgency_level: "medium"}),
    scam: b.riskBadge({risk: {scam_risk: 0.9, combined_risk: 0.9, recommendation: "Do not proceed"}}),
    calm: b.riskBadge({risk: {scam_risk: 0.05, combined_risk: 0.1}}),
    newestInboundNotYetAnalysed: b.latestAnalysis([{direction: "outgoing", analysis: urgent},
      {direction: "incoming", analysis: null}, {direction: "incoming", analysis: urgent}]),
    backoff: [live.backoffDelay(0, () => 0), live.backoffDelay(3, () => 1), live.backoffDelay(12, () => 1)],
    socket: [live.socketUrl({protocol: "https:", host: "hub.example"}), live.socketProtocols("rd_k")],
  };
}"""


async def test_badges_show_only_what_the_hub_stored(hub, chromium):
    browser = await open_page(chromium, hub)
    await browser.page.goto(browser.base_url)
    cases = await browser.page.evaluate(BADGE_CASES)
    assert cases["nothing"] == [None, None, None, None] and cases["unknownUrgency"] is None
    assert cases["fromTriage"] == {"level": "high", "label": "Urgent", "title": "Reply within 1 hour"}
    assert cases["fromDraft"] == {"level": "medium", "label": "Medium priority", "title": ""}
    assert cases["scam"] == {"level": "high", "label": "Likely scam", "title": "Do not proceed"}
    assert cases["calm"]["level"] == "none" and cases["newestInboundNotYetAnalysed"] is None
    assert cases["backoff"] == [500, 8000, 30000]
    assert cases["socket"] == ["wss://hub.example/ws", ["replydesk", "bearer.rd_k"]]  # the key is not in the URL
