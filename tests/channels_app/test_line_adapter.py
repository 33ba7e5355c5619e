"""The LINE adapter: signatures, webhook parsing, translation to InboundMessage, and the API client
against a local fake of LINE. Fixtures are webhook bodies as LINE documents them, signed here the way
LINE signs them."""

import base64
import hashlib
import hmac
import json
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels_app.adapters import InboundAttachment, Sender, SendResult
from channels_app.line.client import LineClient, LineProfile, split_text
from channels_app.line.webhook import MalformedWebhook, parse_webhook, to_inbound, verify_signature
from tests.channels_app.line_fake import ACCESS_TOKEN, running_fake_line_api

FIXTURES = Path(__file__).parent / "fixtures" / "line"
SECRET = "8c5b0f3e7d6a4b2c9e1f0a3d5c7b9e2f"
USER = "U4af4980629a0b7e8d1e3b4f0c2a9d5e1"
GROUP_MEMBER = "U91eeaf62d9b3e5c6a7f8091a2b3c4d5e"
GROUP = "Ca56f94637cc4347f90a25382909b24b9"
ROOM = "Ra8dbf4673c4c812cd491258042226c99"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def only_event(name: str):
    webhook = parse_webhook(fixture(name))
    assert len(webhook.events) == 1
    return webhook.events[0]


@pytest.fixture
def line_api():
    with running_fake_line_api() as fake:
        yield fake


@pytest.fixture
def client(line_api):
    return LineClient(ACCESS_TOKEN, api_base=line_api.url, data_base=line_api.url, timeout=2.0)


# Signatures


def test_signature_made_with_the_channel_secret_over_the_raw_body_is_valid():
    body = fixture("text_user.json")

    assert verify_signature(SECRET, body, sign(body))


def test_signature_made_with_another_secret_is_refused():
    body = fixture("text_user.json")

    assert not verify_signature(SECRET, body, sign(body, secret="another-channel-secret"))


def test_signature_of_a_tampered_body_is_refused():
    body = fixture("text_user.json")
    signature = sign(body)

    assert not verify_signature(SECRET, body.replace(b"1234", b"9999"), signature)


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_is_refused(signature):
    assert not verify_signature(SECRET, fixture("text_user.json"), signature)


@pytest.mark.parametrize("signature", ["not base64!", "c2lnbmF0dXJl=====", "署名", "YWJj\n"])
def test_garbled_signature_is_refused(signature):
    assert not verify_signature(SECRET, fixture("text_user.json"), signature)


def test_no_channel_secret_verifies_nothing():
    body = fixture("text_user.json")

    assert not verify_signature("", body, sign(body, secret=""))


# Parsing


def test_text_message_from_a_user_is_parsed():
    webhook = parse_webhook(fixture("text_user.json"))

    assert webhook.destination == "Uc7472b39e21dab71c2347e02714630d6"
    event = webhook.events[0]
    assert event.kind == "message"
    assert event.webhook_event_id == "01FZ74A0TDDPYRVKNK77XKC3ZR"
    assert event.mode == "active"
    assert event.is_redelivery is False
    assert event.timestamp == datetime(2021, 7, 7, 13, 40, 42, 211000, tzinfo=UTC)
    assert event.reply_token == "757913772c4646b784d4b7ce46d12671"
    assert (event.source_type, event.user_id, event.group_id, event.room_id) == ("user", USER, "", "")
    assert event.chat_id == USER
    assert event.message.id == "444573844083572737"
    assert event.message.type == "text"
    assert event.message.text == "注文した商品がまだ届きません。注文番号は 1234 です。"
    assert event.message.quote_token == "q3Plxr4AgKd..."


def test_image_message_is_parsed_with_its_content_provider():
    message = only_event("image.json").message

    assert (message.type, message.id, message.content_provider) == ("image", "354718705033693861", "line")
    assert message.downloadable


def test_video_kept_by_another_server_is_parsed_with_its_url():
    message = only_event("video.json").message

    assert message.type == "video"
    assert message.content_provider == "external"
    assert message.original_content_url == "https://example.com/original.mp4"
    assert not message.downloadable


def test_audio_message_is_parsed():
    message = only_event("audio.json").message

    assert (message.type, message.id, message.content_provider) == ("audio", "325709", "line")
    assert message.downloadable


def test_file_message_is_parsed_with_name_and_size():
    message = only_event("file.json").message

    assert (message.type, message.file_name, message.file_size) == ("file", "請求書.pdf", 2138)
    assert message.downloadable


def test_sticker_message_is_parsed():
    message = only_event("sticker.json").message

    assert (message.type, message.sticker_package_id, message.sticker_id) == ("sticker", "11537", "52002738")


def test_location_message_is_parsed():
    message = only_event("location.json").message

    assert message.type == "location"
    assert message.location_title == "my location"
    assert message.location_address == "1-3 Kioicho, Chiyoda-ku, Tokyo, 102-8282, Japan"
    assert (message.latitude, message.longitude) == (35.67966, 139.73669)


def test_follow_and_unfollow_are_parsed():
    follow = only_event("follow.json")
    unfollow = only_event("unfollow.json")

    assert (follow.kind, follow.user_id, follow.reply_token) == ("follow", USER, "85cbe770fa8b4f45bbe077b1d4be4a36")
    assert (unfollow.kind, unfollow.user_id, unfollow.reply_token) == ("unfollow", USER, "")
    assert follow.message is None


def test_group_message_names_the_group_and_the_member():
    event = only_event("group_text.json")

    assert (event.source_type, event.group_id, event.user_id) == ("group", GROUP, GROUP_MEMBER)
    assert event.chat_id == GROUP


def test_room_message_names_the_room_and_the_member():
    event = only_event("room_text.json")

    assert (event.source_type, event.room_id, event.user_id) == ("room", ROOM, USER)
    assert event.chat_id == ROOM


def test_standby_event_is_parsed_without_a_reply_token():
    event = only_event("standby.json")

    assert event.mode == "standby"
    assert event.reply_token == ""


def test_redelivered_event_keeps_its_webhook_event_id():
    original = only_event("text_user.json")
    redelivered = only_event("redelivered.json")

    assert redelivered.is_redelivery is True
    assert redelivered.webhook_event_id == original.webhook_event_id


def test_verification_request_has_no_events():
    webhook = parse_webhook(fixture("verification.json"))

    assert webhook.events == []
    assert webhook.destination == "Uc7472b39e21dab71c2347e02714630d6"


def test_unknown_event_type_is_other_not_an_error():
    event = only_event("unknown_event.json")

    assert (event.kind, event.raw_type, event.user_id) == ("other", "somethingNew", USER)


def test_chat_events_are_parsed():
    join, leave, postback, unsend, member_joined = parse_webhook(fixture("chat_events.json")).events

    assert (join.kind, join.group_id, join.reply_token) == ("join", GROUP, "0f3779fba3b349968c5d07db31eabf65")
    assert (leave.kind, leave.group_id) == ("leave", GROUP)
    assert (postback.kind, postback.postback_data) == ("postback", "storeId=12345")
    assert (unsend.kind, unsend.unsent_message_id, unsend.user_id) == ("unsend", "325708", GROUP_MEMBER)
    assert (member_joined.kind, member_joined.raw_type) == ("other", "memberJoined")


def test_unknown_message_type_is_other():
    body = json.loads(fixture("text_user.json"))
    body["events"][0]["message"] = {"type": "hologram", "id": "1"}

    message = parse_webhook(json.dumps(body).encode()).events[0].message

    assert (message.type, message.raw_type) == ("other", "hologram")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"events"', id="string"),
        pytest.param(b'{"destination": "U1"}', id="no-events"),
        pytest.param(b'{"events": {}}', id="events-not-a-list"),
        pytest.param(b'{"events": [1]}', id="event-not-an-object"),
        pytest.param(b'{"events": [{"timestamp": 1}]}', id="event-without-type"),
        pytest.param(b'{"events": [{"type": "follow"}]}', id="event-without-timestamp"),
        pytest.param(b'{"events": [{"type": "follow", "timestamp": "1462629479859"}]}', id="timestamp-string"),
        pytest.param(b'{"events": [{"type": "follow", "timestamp": 1e30}]}', id="timestamp-float"),
        pytest.param(b'{"events": [{"type": "follow", "timestamp": 99999999999999999999}]}', id="timestamp-huge"),
        pytest.param(b'{"events": [{"type": "follow", "timestamp": 1, "source": "U1"}]}', id="source-not-object"),
        pytest.param(b'{"events": [{"type": "message", "timestamp": 1}]}', id="message-event-without-message"),
        pytest.param(
            b'{"events": [{"type": "message", "timestamp": 1, "message": {"type": "text"}}]}', id="message-without-id"
        ),
        pytest.param(
            b'{"events": [{"type": "message", "timestamp": 1, "message": {"type": "location", "id": "1",'
            b' "latitude": NaN, "longitude": 1}}]}',
            id="nan",
        ),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested"),
    ],
)
def test_malformed_body_is_refused(body):
    with pytest.raises(MalformedWebhook):
        parse_webhook(body)


# Translation to InboundMessage


def test_text_message_becomes_an_inbound_message_from_a_verified_line_user():
    event = only_event("text_user.json")

    inbound = to_inbound(event)

    assert inbound.channel == "line"
    assert inbound.external_id == "01FZ74A0TDDPYRVKNK77XKC3ZR"
    assert inbound.sender == Sender(kind="line", address=USER, verified=True)
    assert inbound.text == "注文した商品がまだ届きません。注文番号は 1234 です。"
    assert inbound.attachments == ()
    assert inbound.conversation_key == ""
    assert inbound.received_at == event.timestamp
    assert inbound.metadata == {
        "reply_token": "757913772c4646b784d4b7ce46d12671",
        "source_type": "user",
        "chat_id": USER,
        "message_id": "444573844083572737",
        "message_type": "text",
        "mode": "active",
        "is_redelivery": False,
        "timestamp": "2021-07-07T13:40:42.211000+00:00",
        "quote_token": "q3Plxr4AgKd...",
    }
    json.dumps(inbound.metadata)  # stored as JSON with the reply route


def test_image_becomes_an_attachment_named_after_the_message():
    inbound = to_inbound(only_event("image.json"), content=b"\xff\xd8jpeg", content_type="image/jpeg")

    assert inbound.text == "[Image]"
    assert inbound.attachments == (
        InboundAttachment(filename="line-354718705033693861.jpg", content=b"\xff\xd8jpeg", content_type="image/jpeg"),
    )


def test_png_image_keeps_its_extension():
    inbound = to_inbound(only_event("image.json"), content=b"\x89PNG", content_type="image/png")

    assert inbound.attachments[0].filename == "line-354718705033693861.png"


def test_image_that_could_not_be_downloaded_says_so():
    inbound = to_inbound(only_event("image.json"))

    assert inbound.text == "[Image]"
    assert inbound.attachments == ()
    assert inbound.metadata["content_missing"] is True


def test_external_video_links_to_its_original():
    inbound = to_inbound(only_event("video.json"))

    assert inbound.text == "[Video] https://example.com/original.mp4"
    assert inbound.metadata["original_content_url"] == "https://example.com/original.mp4"


def test_audio_becomes_an_m4a_attachment():
    inbound = to_inbound(only_event("audio.json"), content=b"audio", content_type="audio/x-m4a")

    assert inbound.text == "[Audio]"
    assert inbound.attachments[0].filename == "line-325709.m4a"
    assert inbound.attachments[0].content_type == "audio/x-m4a"


def test_file_keeps_its_name_and_guesses_its_type():
    inbound = to_inbound(only_event("file.json"), content=b"%PDF-1.7")

    assert inbound.text == "[File] 請求書.pdf"
    assert inbound.attachments == (
        InboundAttachment(filename="請求書.pdf", content=b"%PDF-1.7", content_type="application/pdf"),
    )


def test_sticker_becomes_readable_text():
    inbound = to_inbound(only_event("sticker.json"))

    assert inbound.text == "[Sticker 11537/52002738]"
    assert inbound.metadata["message_type"] == "sticker"


def test_location_becomes_text_with_a_map_link():
    inbound = to_inbound(only_event("location.json"))

    assert inbound.text == (
        "[Location] my location, 1-3 Kioicho, Chiyoda-ku, Tokyo, 102-8282, Japan (35.67966, 139.73669)\n"
        "https://www.google.com/maps?q=35.67966,139.73669"
    )


def test_group_message_continues_the_group_conversation():
    inbound = to_inbound(only_event("group_text.json"))

    assert inbound.conversation_key == f"line-group:{GROUP}"
    assert inbound.sender.address == GROUP_MEMBER
    assert inbound.metadata["chat_id"] == GROUP


def test_room_message_continues_the_room_conversation():
    inbound = to_inbound(only_event("room_text.json"))

    assert inbound.conversation_key == f"line-room:{ROOM}"
    assert inbound.metadata["source_type"] == "room"


def test_standby_and_redelivery_are_in_the_metadata():
    standby = to_inbound(only_event("standby.json"))
    redelivered = to_inbound(only_event("redelivered.json"))

    assert (standby.metadata["mode"], standby.metadata["reply_token"]) == ("standby", "")
    assert redelivered.metadata["is_redelivery"] is True
    assert redelivered.external_id == to_inbound(only_event("text_user.json")).external_id


def test_group_member_without_a_user_id_is_an_unverified_sender():
    body = json.loads(fixture("group_text.json"))
    del body["events"][0]["source"]["userId"]

    inbound = to_inbound(parse_webhook(json.dumps(body).encode()).events[0])

    assert inbound.sender == Sender(kind="line", address="", verified=False)
    assert inbound.conversation_key == f"line-group:{GROUP}"


def test_message_id_stands_in_for_a_missing_webhook_event_id():
    body = json.loads(fixture("text_user.json"))
    del body["events"][0]["webhookEventId"]

    inbound = to_inbound(parse_webhook(json.dumps(body).encode()).events[0])

    assert inbound.external_id == "444573844083572737"


def test_unknown_message_type_is_kept_as_a_note():
    body = json.loads(fixture("text_user.json"))
    body["events"][0]["message"] = {"type": "hologram", "id": "1"}

    inbound = to_inbound(parse_webhook(json.dumps(body).encode()).events[0])

    assert inbound.text == "[Unsupported LINE message: hologram]"


@pytest.mark.parametrize("name", ["follow.json", "unfollow.json", "unknown_event.json", "chat_events.json"])
def test_events_other_than_messages_are_not_inbound_messages(name):
    for event in parse_webhook(fixture(name)).events:
        assert to_inbound(event) is None


# The client against the fake LINE API


def test_reply_sends_texts_with_the_reply_token(client, line_api):
    result = client.reply(
        "757913772c4646b784d4b7ce46d12671", ["お問い合わせありがとうございます。", "担当者が確認します。"]
    )

    assert result.ok
    (request,) = line_api.requests_to("/v2/bot/message/reply")
    assert result.provider_id
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "replyToken": "757913772c4646b784d4b7ce46d12671",
        "messages": [
            {"type": "text", "text": "お問い合わせありがとうございます。"},
            {"type": "text", "text": "担当者が確認します。"},
        ],
    }


def test_reply_provider_id_is_the_line_request_id(client, line_api):
    result = client.reply("token-1", ["Hello"])

    assert uuid.UUID(result.provider_id)


def test_reply_token_works_once(client, line_api):
    client.reply("token-1", ["first"])

    result = client.reply("token-1", ["second"])

    assert result == SendResult(ok=False, transient=False, error="HTTP 400: Invalid reply token")
    assert len(line_api.replies) == 1


def test_expired_reply_token_is_a_permanent_failure(client, line_api):
    line_api.expire_reply_token("expired-token")

    result = client.reply("expired-token", ["Hello"])

    assert not result.ok
    assert not result.transient
    assert "Invalid reply token" in result.error


def test_long_text_is_split_into_message_objects_of_5000_characters(client, line_api):
    text = "あ" * 12_000

    assert client.reply("token-1", [text]).ok

    texts = [message["text"] for message in line_api.replies[0]["messages"]]
    assert [len(piece) for piece in texts] == [5000, 5000, 2000]
    assert "".join(texts) == text


def test_reply_that_needs_more_than_five_message_objects_is_refused_before_sending(client, line_api):
    result = client.reply("token-1", [f"part {number}" for number in range(6)])

    assert not result.ok
    assert not result.transient
    assert "push instead" in result.error
    assert line_api.requests == []


def test_blank_texts_are_left_out_and_an_empty_answer_is_not_sent(client, line_api):
    assert client.reply("token-1", ["", "  ", "Hello"]).ok
    assert line_api.replies[0]["messages"] == [{"type": "text", "text": "Hello"}]

    result = client.push(USER, ["", "\n"])

    assert result == SendResult(ok=False, error="nothing to send")
    assert line_api.requests_to("/v2/bot/message/push") == []


def test_push_sends_the_retry_key(client, line_api):
    retry_key = str(uuid.uuid4())

    result = client.push(USER, ["Your order has shipped."], retry_key=retry_key)

    assert result.ok
    (request,) = line_api.requests_to("/v2/bot/message/push")
    assert request.headers["x-line-retry-key"] == retry_key
    assert request.json == {"to": USER, "messages": [{"type": "text", "text": "Your order has shipped."}]}


def test_repeated_push_with_the_same_retry_key_is_delivered_once(client, line_api):
    retry_key = str(uuid.uuid4())

    first = client.push(USER, ["Your order has shipped."], retry_key=retry_key)
    second = client.push(USER, ["Your order has shipped."], retry_key=retry_key)

    assert first.ok
    assert second.ok
    assert second.provider_id == first.provider_id  # x-line-accepted-request-id: the original request
    assert len(line_api.requests_to("/v2/bot/message/push")) == 2
    assert len(line_api.pushes) == 1


def test_push_whose_answer_was_lost_is_retried_without_a_duplicate(client, line_api):
    retry_key = str(uuid.uuid4())
    line_api.fail_next(500, accept=True)

    lost = client.push(USER, ["Your order has shipped."], retry_key=retry_key)
    retried = client.push(USER, ["Your order has shipped."], retry_key=retry_key)

    assert (lost.ok, lost.transient) == (False, True)
    assert retried.ok
    assert len(line_api.pushes) == 1


def test_push_without_a_retry_key_sends_no_retry_header(client, line_api):
    assert client.push(GROUP, ["Hello, group"]).ok

    (request,) = line_api.requests_to("/v2/bot/message/push")
    assert "x-line-retry-key" not in request.headers
    assert request.json["to"] == GROUP


def test_retry_key_must_be_a_uuid(client, line_api):
    with pytest.raises(ValueError, match="badly formed"):
        client.push(USER, ["Hello"], retry_key="message-42")

    assert line_api.requests == []


def test_long_push_goes_five_message_objects_a_request_each_with_its_own_retry_key(client, line_api):
    retry_key = str(uuid.uuid4())
    texts = [f"part {number}" for number in range(12)]

    result = client.push(USER, texts, retry_key=retry_key)

    assert result.ok
    requests = line_api.requests_to("/v2/bot/message/push")
    assert [len(request.json["messages"]) for request in requests] == [5, 5, 2]
    keys = [request.headers["x-line-retry-key"] for request in requests]
    assert keys[0] == retry_key
    assert len(set(keys)) == 3
    assert [message["text"] for request in requests for message in request.json["messages"]] == texts
    assert len(result.provider_id.split(",")) == 3


def test_long_push_retried_after_a_failure_resends_only_what_was_not_accepted(client, line_api):
    retry_key = str(uuid.uuid4())
    texts = [f"part {number}" for number in range(7)]
    line_api.fail_next(503, after=1)  # the first request is accepted, the second fails

    failed = client.push(USER, texts, retry_key=retry_key)
    retried = client.push(USER, texts, retry_key=retry_key)

    assert (failed.ok, failed.transient) == (False, True)
    assert failed.error.startswith("request 2/2: HTTP 503")
    assert retried.ok
    assert [message["text"] for body in line_api.pushes for message in body["messages"]] == texts


def test_profile_is_read(client, line_api):
    line_api.add_profile(USER, "田中 花子", picture_url="https://profile.line-scdn.net/abc", language="ja")

    profile = client.get_profile(USER)

    assert profile == LineProfile(
        user_id=USER, display_name="田中 花子", picture_url="https://profile.line-scdn.net/abc", language="ja"
    )
    (request,) = line_api.requests_to(f"/v2/bot/profile/{USER}")
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_profile_of_an_unknown_user_is_none(client, line_api):
    assert client.get_profile("U00000000000000000000000000000000") is None


def test_profile_is_none_when_line_fails(client, line_api):
    line_api.add_profile(USER, "Hanako")
    line_api.fail_next(500)

    assert client.get_profile(USER) is None


def test_content_is_downloaded_from_the_data_host(line_api):
    line_api.add_content("354718705033693861", b"\xff\xd8" + b"x" * 1000, "image/jpeg")
    client = LineClient(ACCESS_TOKEN, api_base="http://127.0.0.1:9", data_base=line_api.url)

    content = client.get_content("354718705033693861", max_bytes=10_000)

    assert content == (b"\xff\xd8" + b"x" * 1000, "image/jpeg")
    (request,) = line_api.requests_to("/v2/bot/message/354718705033693861/content")
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_content_of_exactly_the_cap_is_accepted(client, line_api):
    line_api.add_content("1", b"x" * 100, send_length=False)

    assert client.get_content("1", max_bytes=100) == (b"x" * 100, "image/jpeg")


@pytest.mark.parametrize("send_length", [True, False], ids=["declared", "undeclared"])
def test_content_larger_than_the_cap_is_refused(client, line_api, send_length):
    line_api.add_content("1", b"x" * 200_000, "video/mp4", send_length=send_length)

    assert client.get_content("1", max_bytes=100_000) is None


def test_missing_content_is_none(client, line_api):
    assert client.get_content("404", max_bytes=1000) is None


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_are_transient(client, line_api, status):
    line_api.fail_next(status)

    result = client.push(USER, ["Hello"], retry_key=str(uuid.uuid4()))

    assert (result.ok, result.transient) == (False, True)
    assert result.error.startswith(f"HTTP {status}: ")
    assert line_api.pushes == []


def test_rejected_request_is_a_permanent_failure_with_line_s_reason(client, line_api):
    line_api.fail_next(400, message="The request body has 1 error(s)")

    result = client.reply("token-1", ["Hello"])

    assert result == SendResult(ok=False, transient=False, error="HTTP 400: The request body has 1 error(s)")


def test_validation_details_are_part_of_the_error(client, line_api):
    result = client.push("", ["Hello"])

    assert not result.transient
    assert result.error == "HTTP 400: The request body has 1 error(s); to: Must not be empty"


def test_wrong_access_token_is_a_permanent_failure(line_api):
    client = LineClient("revoked-token", api_base=line_api.url, data_base=line_api.url)

    result = client.push(USER, ["Hello"])

    assert (result.ok, result.transient) == (False, False)
    assert result.error.startswith("HTTP 401: Authentication failed")


def test_connection_refused_is_transient():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = LineClient(ACCESS_TOKEN, api_base=f"http://127.0.0.1:{port}", data_base=f"http://127.0.0.1:{port}")

    result = client.push(USER, ["Hello"])

    assert (result.ok, result.transient) == (False, True)
    assert result.error.startswith("LINE unreachable")
    assert client.get_profile(USER) is None
    assert client.get_content("1", max_bytes=10) is None


def test_timeout_is_transient(line_api):
    client = LineClient(ACCESS_TOKEN, api_base=line_api.url, data_base=line_api.url, timeout=0.2)
    line_api.fail_next(200, delay=1.0, accept=True)

    result = client.push(USER, ["Hello"], retry_key=str(uuid.uuid4()))

    assert (result.ok, result.transient) == (False, True)


def test_client_refuses_non_http_bases():
    with pytest.raises(ValueError, match="not an http"):
        LineClient(ACCESS_TOKEN, api_base="file:///etc/passwd")


# Text splitting


def test_split_text_keeps_short_text_whole():
    assert split_text("Hello") == ["Hello"]


def test_split_text_cuts_after_a_line_break_near_the_limit():
    text = "a" * 70 + "\n" + "b" * 50

    assert split_text(text, limit=100) == ["a" * 70 + "\n", "b" * 50]


def test_split_text_never_cuts_a_surrogate_pair():
    text = "😀" * 3000  # two UTF-16 code units each

    pieces = split_text(text)

    assert "".join(pieces) == text
    assert [len(piece) for piece in pieces] == [2500, 500]
