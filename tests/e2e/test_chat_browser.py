"""A customer chats in the widget on a shop's website (another origin than the helpdesk), the bot answers,
the customer asks for a person, an agent accepts in the console and answers live, the customer reloads
and keeps the conversation, the agent ends the chat. Run alone: `pytest tests/e2e`."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from channels_app.models import ChatSession, ChatState, ChatWidget
from customers.models import ChannelKind
from helpdesk.models import AgentProfile
from tests.e2e.live_server import CHROMIUM
from tests.factories import PASSWORD, AgentFactory, InboxFactory, TeamFactory

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
expect = sync_api.expect

CUSTOMER_NAME = "山田 太郎"
QUESTION = "営業時間を教えてください"
AGENT_REPLY = "担当のAikoです。平日9時から18時まで対応しております。"
INTERNAL_NOTE = "常連のお客様。丁寧に対応"
SECOND_REPLY = "ご注文番号がわかれば、お調べいたします。"


def tiny_png() -> bytes:
    """A valid 1x1 PNG, built here so the test needs no image file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x1f\x5f\xd6\xff"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def support_desk(host_page, widget_key):
    """A team with one agent, Aiko, and a chat widget allowed on the shop's origin."""
    team = TeamFactory(name="Tier 1")
    agent = AgentFactory(user__username="aiko", display_name="Aiko", teams=[team])
    # The server process checks passwords with the project's hashers, not the tests' fast MD5.
    hasher = PBKDF2PasswordHasher()
    agent.user.password = hasher.encode(PASSWORD, hasher.salt())
    agent.user.save(update_fields=["password"])
    inbox = InboxFactory(name="Website chat", kind=ChannelKind.CHAT, team=team)
    widget = ChatWidget.objects.create(
        inbox=inbox,
        public_key=widget_key,
        allowed_origins=host_page.origin,
        title="Test shop support",
        title_ja="テストショップ サポート",
        ask_name=True,
        ask_email=True,
        require_email=False,
    )
    return {"agent": agent.user, "team": team, "widget": widget}


class Network:
    """The widget's socket, routed through Playwright so the test can cut it and keep it cut."""

    def __init__(self) -> None:
        self.up = True
        self.sockets: list = []

    def route(self, socket) -> None:
        if not self.up:
            socket.close(code=4000, reason="offline")
            return
        self.sockets.append((socket, socket.connect_to_server()))

    def cut(self) -> None:
        self.up = False
        for page_side, server_side in self.sockets:
            server_side.close()
            page_side.close(code=4000, reason="offline")
        self.sockets.clear()


def wait_until(page, condition, seconds: float = 10) -> None:
    """Polls a server-side condition, letting the browsers run meanwhile."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    assert condition()


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def open_widget(page):
    page.get_by_role("button", name=re.compile("^チャットを開く")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog


def test_the_harness_serves_the_helpdesk_and_a_shop_page_with_the_widget(
    helpdesk_server, host_page, customer_context, agent_context, support_desk
):
    """Daphne serves pages, static files and logins; the shop's page, on another origin, shows the launcher
    and a dialog that opens and closes from the keyboard. Needs no chat server code."""
    agent = agent_context.new_page()
    log_in(agent, helpdesk_server, "aiko")
    assert agent.url.rstrip("/") == helpdesk_server

    customer = customer_context.new_page()
    customer.goto(host_page.url)
    assert customer.evaluate("location.origin") == host_page.origin != helpdesk_server
    launcher = customer.get_by_role("button", name="チャットを開く")
    expect(launcher).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "false")

    dialog = open_widget(customer)
    expect(dialog.get_by_role("textbox", name="メッセージ")).to_be_focused()
    assert customer.evaluate("window.HelpdeskChat.isOpen()") is True

    # Enter that ends an IME conversion (kana to kanji) must not send the message.
    message_box = dialog.get_by_role("textbox", name="メッセージ")
    message_box.fill("へんかんちゅう")
    message_box.dispatch_event("keydown", {"key": "Enter", "isComposing": True, "bubbles": True})
    expect(message_box).to_have_value("へんかんちゅう")
    expect(dialog.locator(".msg.customer")).to_have_count(0)

    customer.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    assert customer.evaluate("window.HelpdeskChat.isOpen()") is False

    # On a phone the panel takes the whole screen (no opening animation when the visitor asks for less motion).
    customer.set_viewport_size({"width": 375, "height": 700})
    customer.emulate_media(reduced_motion="reduce")
    customer.evaluate("window.HelpdeskChat.open()")
    box = dialog.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 700)
    dialog.get_by_role("button", name="チャットを閉じる").click()
    expect(launcher).to_be_focused()
    # The host page's own styles never reach the widget: it lives in a shadow root.
    assert customer.evaluate("document.querySelector('[data-helpdesk-chat]').shadowRoot !== null")


def test_a_customer_chats_with_the_bot_then_an_agent_answers_live(
    helpdesk_server, host_page, customer_context, agent_context, support_desk, widget_key
):
    # Aiko opens the console: connecting makes her online.
    agent = agent_context.new_page()
    log_in(agent, helpdesk_server, "aiko")
    agent.goto(f"{helpdesk_server}/agent/chats/")
    expect(agent.locator("#cc-connection")).to_have_attribute("data-kind", "ok")

    # The customer opens the widget, gives a name and an email, and asks.
    customer = customer_context.new_page()
    network = Network()
    customer.route_web_socket(re.compile(r"/ws/chat/"), network.route)
    customer.goto(host_page.url)
    dialog = open_widget(customer)
    expect(dialog.get_by_role("heading", name="テストショップ サポート")).to_be_visible()
    dialog.get_by_label("お名前").fill(CUSTOMER_NAME)
    dialog.get_by_label("メールアドレス（任意）").fill("taro@example.jp")
    message_box = dialog.get_by_role("textbox", name="メッセージ")
    message_box.fill(QUESTION)
    message_box.press("Enter")

    expect(dialog.locator(".msg.customer", has_text=QUESTION)).to_be_visible()
    expect(dialog.locator(".msg.customer.sending")).to_have_count(0)  # the server's copy replaced it
    expect(dialog.get_by_label("お名前")).to_be_hidden()  # the pre-chat fields went with the first message
    # The bot answers from its support-hours intent, in Japanese.
    expect(dialog.locator(".msg.bot", has_text="対応時間")).to_be_visible()

    # She asks for a person; Aiko sees the chat waiting and accepts it.
    dialog.get_by_role("button", name="担当者と話す").click()
    waiting = agent.locator("#cc-queue .cc-item")
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text(CUSTOMER_NAME)
    expect(agent).to_have_title(re.compile(r"^\(1\) "))
    waiting.get_by_role("button", name=re.compile("^Accept")).click()

    expect(agent.locator("#cc-mine .cc-item", has_text=CUSTOMER_NAME)).to_be_visible()
    expect(agent.locator("#cc-queue .cc-item")).to_have_count(0)
    transcript = agent.locator("#cc-transcript")
    expect(transcript.locator(".cc-customer", has_text=QUESTION)).to_be_visible()
    expect(transcript.locator(".cc-bot", has_text="対応時間")).to_be_visible()
    expect(dialog).to_contain_text("Aiko")  # "Aiko is handling your chat"

    # Aiko has the chat on screen: the customer sees that her last message was read.
    expect(dialog.locator(".msg.customer").last.locator(".seen")).to_have_text("既読")

    # Aiko writes an internal note first: marked as such for her, never sent to the customer.
    agent.get_by_label("Internal note", exact=True).check()
    reply_box = agent.locator("#cc-text")
    reply_box.fill(INTERNAL_NOTE)
    reply_box.press("Enter")
    expect(transcript.locator(".cc-kind-note", has_text=INTERNAL_NOTE)).to_contain_text("not visible to the customer")

    # Aiko answers; the customer sees her typing, then the reply at once, and Aiko's copy is reconciled.
    agent.get_by_label("Reply", exact=True).check()
    reply_box.fill(AGENT_REPLY)
    expect(dialog.get_by_text("Aikoが入力中です…")).to_be_visible()
    reply_box.press("Enter")
    expect(dialog.locator(".msg.agent", has_text=AGENT_REPLY)).to_be_visible()
    expect(dialog.locator(".msg.agent .author", has_text="Aiko")).to_be_visible()
    expect(transcript.locator(".cc-agent", has_text=AGENT_REPLY)).to_be_visible()
    expect(transcript.locator(".cc-sending")).to_have_count(0)
    expect(dialog).not_to_contain_text(INTERNAL_NOTE)  # stored before the reply, and still not here

    # The customer's connection drops; Aiko answers meanwhile. Back online, the widget reconnects by itself
    # and catches up from the last seq it had.
    network.cut()
    expect(dialog.get_by_text("接続が切れました。再接続しています…")).to_be_visible()
    reply_box.fill(SECOND_REPLY)
    reply_box.press("Enter")
    expect(transcript.locator(".cc-agent", has_text=SECOND_REPLY)).to_be_visible()
    expect(dialog.locator(".msg", has_text=SECOND_REPLY)).to_have_count(0)
    network.up = True
    expect(dialog.locator(".msg.agent", has_text=SECOND_REPLY)).to_be_visible(timeout=30_000)
    expect(dialog.get_by_text("接続が切れました。再接続しています…")).to_be_hidden()

    # A reload keeps the conversation: the visitor token is remembered and the widget resyncs. Without its
    # cached transcript, everything must come back from the server.
    customer.evaluate("key => localStorage.removeItem('helpdesk-transcript:' + key)", widget_key)
    customer.reload()
    dialog = open_widget(customer)
    for text in (QUESTION, "対応時間", AGENT_REPLY, SECOND_REPLY):
        expect(dialog.locator(".msg", has_text=text)).to_have_count(1)

    # The transcript goes to the address given before the chat.
    dialog.get_by_role("button", name="会話の記録をメールで受け取る").click()
    expect(dialog.get_by_text("会話の記録をtaro@example.jpに送信しました。")).to_be_visible()

    # Aiko ends the chat; the customer is told.
    agent.get_by_role("button", name="End chat").click()
    agent.get_by_role("button", name="Yes, end the chat").click()
    expect(dialog.get_by_text("チャットは終了しました")).to_be_visible()

    # Aiko steps away: no new offers for her.
    agent.get_by_label("Away", exact=True).check()
    wait_until(agent, lambda: AgentProfile.objects.get(user=support_desk["agent"]).presence == "away")

    session = ChatSession.objects.select_related("ticket").get()
    assert session.state == ChatState.ENDED
    assert session.ticket.status == "solved"
    bodies = list(session.ticket.messages.filter(kind="message").order_by("seq").values_list("body_text", flat=True))
    assert bodies[0] == QUESTION
    assert AGENT_REPLY in bodies
    assert SECOND_REPLY in bodies
    assert session.ticket.messages.filter(kind="message", author_type="bot").exists()


def test_a_customer_sends_a_picture_across_origins(helpdesk_server, host_page, customer_context, support_desk):
    """The upload is a cross-origin POST (CORS) and its thumbnail is a signed link back to the helpdesk."""
    customer = customer_context.new_page()
    customer.goto(host_page.url)
    dialog = open_widget(customer)
    dialog.get_by_label("お名前").fill(CUSTOMER_NAME)
    attach = dialog.get_by_role("button", name="ファイルを添付")
    expect(attach).to_be_hidden()  # a file cannot open a chat: the first message does
    message_box = dialog.get_by_role("textbox", name="メッセージ")
    message_box.fill("領収書を送ります")
    message_box.press("Enter")
    expect(attach).to_be_visible()
    dialog.locator("input[type=file]").set_input_files(
        files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )

    picture = dialog.locator(".msg.customer img[alt='receipt.png']")
    expect(picture).to_be_visible()
    assert picture.get_attribute("src").startswith(helpdesk_server)
    expect(dialog.locator(".msg.customer.failed")).to_have_count(0)
