"""parse_email on real-world mail (shared/testdata/mail) and on hand-made messages: no database needed."""

import base64
import dataclasses
import email
import email.policy
import hashlib
import os
import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels_app.email.parsing import ParsedEmail, UnparseableEmail, decode_bytes, parse_email
from channels_app.email.quoting import new_text_of


def _mail_dir() -> Path:
    override = os.environ.get("HELPDESK_TESTDATA_MAIL")
    if override:
        return Path(override)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "testdata" / "mail"


MAIL_DIR = _mail_dir()
NOT_MAIL = {"README.md", "EXPECTED.md"}
SAMPLES = (
    sorted(path for path in MAIL_DIR.rglob("*") if path.is_file() and path.name not in NOT_MAIL)
    if MAIL_DIR.is_dir()
    else []
)


def sample(relative: str) -> ParsedEmail:
    path = MAIL_DIR / relative
    if not path.is_file():
        pytest.skip(f"test mail {path} is not available")
    return parse_email(path.read_bytes())


def mail(*headers: str, body: str | bytes = "Hello", content_type: str = "text/plain; charset=utf-8") -> bytes:
    """A message with From/Subject/Message-ID defaults; header lines given here come first and win."""
    names = {line.split(":", 1)[0].lower() for line in headers}
    defaults = [
        ("from", "From: Customer <customer@example.com>"),
        ("to", "To: support@example.jp"),
        ("subject", "Subject: Help"),
        ("message-id", "Message-ID: <m1@example.com>"),
        ("content-type", f"Content-Type: {content_type}"),
    ]
    lines = [*headers, *(line for name, line in defaults if name not in names)]
    payload = body.encode() if isinstance(body, str) else body
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + payload


def parse_or_quarantine(raw: bytes) -> ParsedEmail | str:
    """The parse, or the reason the message is quarantined; any other exception fails the test."""
    try:
        return parse_email(raw)
    except UnparseableEmail as quarantined:
        return quarantined.reason


def assert_clean(parsed: ParsedEmail | str) -> None:
    """What every parse must give, whatever the input: storable text and usable identifiers."""
    if isinstance(parsed, str):
        assert parsed
        return
    for field in dataclasses.fields(parsed):
        values = getattr(parsed, field.name)
        for value in values if isinstance(values, tuple) else (values,):
            texts = [value.filename, value.content_type, value.content_id] if hasattr(value, "filename") else [value]
            for text in texts:
                if isinstance(text, str):
                    assert "\x00" not in text, field.name
                    assert not re.search("[\ud800-\udfff]", text), field.name
    assert parsed.message_id
    assert "<" not in parsed.message_id
    assert not parsed.message_id.startswith(" ")
    assert "@" in parsed.from_address
    assert parsed.from_address == parsed.from_address.lower()
    assert all(address == address.lower() for address in (*parsed.to, *parsed.cc, *parsed.delivered_to))
    assert not parsed.text or parsed.new_text
    assert all(isinstance(attachment.content, bytes) and attachment.filename for attachment in parsed.attachments)


# The shared corpus ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", SAMPLES or [None], ids=lambda path: str(path.relative_to(MAIL_DIR)) if path else "no-test-mail"
)
def test_every_sample_message_parses_or_is_quarantined(path):
    if path is None:
        pytest.skip(f"no test mail at {MAIL_DIR}")
    parsed = parse_or_quarantine(path.read_bytes())
    if isinstance(parsed, str):
        assert parsed  # the reason it is quarantined
        return
    assert parsed.from_address
    assert parsed.raw_size == path.stat().st_size
    assert_clean(parsed)


def test_a_message_without_from_is_quarantined():
    path = MAIL_DIR / "cpython" / "msg_38.txt"
    if not path.is_file():
        pytest.skip(f"test mail {path} is not available")
    with pytest.raises(UnparseableEmail, match="From"):
        parse_email(path.read_bytes())


def test_django_helpdesk_expectations_hold():
    special = sample("django-helpdesk/all-special-chars.eml")
    assert special.subject == "Testovácí email"
    assert special.text == "íářčšáíéřášč"

    blank = sample("django-helpdesk/blank-body-with-attachment.eml")
    assert blank.text == ""
    assert [(a.filename, a.content) for a in blank.attachments] == [("baf", b"You shouldn't see this.\n")]

    pgp = sample("django-helpdesk/pgp.eml")
    assert pgp.subject == "example email that crashes django-helpdesk get_email"
    assert pgp.text == (
        "hi, thanks for looking into this :)\n\n"
        "https://github.com/django-helpdesk/django-helpdesk/issues/567#issuecomment-342954233"
    )
    [signature] = pgp.attachments
    assert signature.filename == "signature.asc"
    assert signature.content_type == "application/pgp-signature"
    assert signature.content.startswith(b"-----BEGIN PGP SIGNATURE-----\n")
    assert signature.content.endswith(b"=6JeP\n-----END PGP SIGNATURE-----\n")

    nondecodable = sample("django-helpdesk/utf-nondecodable.eml")
    assert nondecodable.subject == "Fwd: Cyklozaměstnavatel - změna vyhodnocení"
    assert "Ahoj Johne" in nondecodable.text
    assert "prosazuje lepší" in nondecodable.html


# Japanese and other charsets -----------------------------------------------------------------------


def test_japanese_utf8_subject_and_body_with_signature():
    parsed = sample("mikel-mail/multi_charset/japanese.eml")
    assert parsed.subject == "まみむめも"
    assert parsed.to == ("raasdnil@gmail.com",)
    assert parsed.text == "かきくえこ\n\n-- \nhttp://lindsaar.net/\nRails, RSpec and Life blog...."
    assert parsed.new_text == "かきくえこ"


def test_japanese_iso_2022_jp_body():
    parsed = sample("mikel-mail/multi_charset/japanese_iso_2022.eml")
    assert parsed.subject == "まみむめも"
    assert parsed.text == "すみません。"


def test_japanese_shift_jis_body():
    parsed = sample("mikel-mail/multi_charset/japanese_shift_jis.eml")
    assert parsed.text == "あいうえお\n\nこのメールはテスト用のメールです。\n\n今後ともよろしくお願い申し上げます！"


def test_japanese_attachment_filename_in_an_encoded_word_inside_quotes():
    parsed = sample("mikel-mail/multi_charset/japanese_attachment.eml")
    assert parsed.new_text == "testing"
    [attachment] = parsed.attachments
    assert attachment.filename == "てすと.txt"
    assert attachment.content.decode() == "this is a test\nこれわてすと"


def test_japanese_long_subject_and_rfc2231_continued_filename():
    parsed = sample("mikel-mail/multi_charset/japanese_attachment_long_name.eml")
    assert parsed.subject == "まみむめも" * 10
    assert [a.filename for a in parsed.attachments] == ["かきくけこ" * 5 + ".txt"]


def test_iso_2022_jp_encoded_words_on_oddly_folded_lines():
    parsed = sample("mikel-mail/rfc2822/example14.eml")
    assert parsed.subject == "Re: TEST テストテスト"
    assert parsed.from_address == "atsushi@example.com"  # From, not Reply-To
    assert parsed.reply_to == ("rudeboyjet@gmail.com",)
    assert parsed.in_reply_to == ("rid_5582199198@msgid.example.com",)


def test_korean_and_mislabelled_chinese():
    assert sample("mikel-mail/multi_charset/ks_c_5601-1987.eml").text == "스티해"
    chinese = sample("mail-parser/mail_test_12")  # declared GB2312, body actually UTF-8
    assert chinese.subject == "代开各地增值税发票"
    assert chinese.from_name == "张先生"
    assert chinese.text.startswith("你好！我公司可代开各类增值税发票")


def test_undecodable_rfc2231_filename_keeps_what_it_can():
    [attachment] = sample("mikel-mail/plain_emails/raw_email8.eml").attachments
    assert attachment.filename == "01 Quien Te Dij\ufffdat. Pitbull.mp3"


def test_raw_8bit_headers_are_decoded():
    assert sample("flanker/from-encoding.eml").from_name == "Ingo Lütkebohle"
    parsed = sample("mikel-mail/rfc6532/utf8_headers.eml")
    assert (parsed.from_name, parsed.from_address, parsed.subject) == (
        "Jöhn Doe",
        "jdöe@mächine.example",
        "Säying Hello",
    )
    raw_sjis = b"From: " + "山田 太郎".encode("cp932") + b" <taro@example.jp>\r\nSubject: " + "見積".encode("cp932")
    sjis = parse_email(raw_sjis + b"\r\n\r\nbody")
    assert (sjis.from_name, sjis.subject) == ("山田 太郎", "見積")


def test_windows_iso_2022_jp_extensions_and_japanese_charset_aliases():
    subject = "=?ISO-2022-JP?B?" + base64.b64encode("㈱テスト①".encode("iso2022_jp_ext", "replace")).decode() + "?="
    jis_body = b"\x1b$B-j\x1b(B\x1b$B%F%9%H-!\x1b(B"  # ㈱テスト① as Windows writes ISO-2022-JP
    parsed = parse_email(mail(f"Subject: {subject}", body=jis_body, content_type="text/plain; charset=ISO-2022-JP"))
    assert parsed.text == "㈱テスト①"
    cp932 = parse_email(mail(body="髙橋です①".encode("cp932"), content_type="text/plain; charset=x-sjis"))
    assert cp932.text == "髙橋です①"
    euc = parse_email(mail(body="こんにちは、山田です。".encode("euc_jp"), content_type="text/plain"))
    assert euc.text == "こんにちは、山田です。"
    split_word = "あい".encode()
    halves = [base64.b64encode(split_word[:4]).decode(), base64.b64encode(split_word[4:]).decode()]
    split = parse_email(mail(f"Subject: =?UTF-8?B?{halves[0]}?=\r\n =?UTF-8?B?{halves[1]}?="))
    assert split.subject == "あい"  # a character split across two encoded-words
    undeclared = parse_email(mail(body="お問い合わせありがとうございます。".encode("cp932"), content_type="text/plain"))
    assert undeclared.text == "お問い合わせありがとうございます。"


def test_utf8_wins_over_a_wrong_label():
    parsed = parse_email(mail(body="Grüße, 山田".encode(), content_type="text/plain; charset=iso-8859-1"))
    assert parsed.text == "Grüße, 山田"
    latin = parse_email(mail(body="Grüße".encode("latin-1"), content_type="text/plain; charset=iso-8859-1"))
    assert latin.text == "Grüße"


def test_decode_bytes_falls_back_without_raising():
    assert decode_bytes("Lütkebohle".encode("latin-1")) == "Lütkebohle"
    assert decode_bytes(b"caf\xc3\xa9 \xff ok caf\xc3\xa9 cr\xc3\xa8me", "utf-8") == "café \ufffd ok café crème"
    assert decode_bytes("Привет".encode(), "no-such-charset") == "Привет"
    assert decode_bytes(b"\xff\xfe", "base64") == "ÿþ"  # not a text codec: treated as undeclared
    assert decode_bytes(b"\xff\xfe", "unicode_escape") == "ÿþ"


# Bounces, complaints and other reports -------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "recipients", "action", "original_id"),
    [
        ("flanker/bounce/delayed.eml", ("foo@example.com",), "failed", ""),
        ("flanker/bounce/mailbox-full.eml", ("user@aol.com",), "failed", "4E326A95.3010907@example.com"),
        (
            "mikel-mail/multipart_report_emails/report_422.eml",
            ("fraser@oooooooo.com.au",),
            "delayed",
            "15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au",
        ),
        # No report-type, but postmaster with a delivery-status part.
        ("cpython/msg_16.txt", ("jangel1@cougar.noc.ucla.edu",), "failed", "002001c144a6$8752e060$56104586@oxy.edu"),
        # The boundary parameter is cut short; the structure is recovered from the body.
        ("cpython/msg_25.txt", ("scoffman@wellpartner.com",), "failed", "01040616033903.00962@server"),
        (
            "mail-parser/mail_malformed_2",
            ("abh@netpar.com.br",),
            "failed",
            "004801d1fc84$01c934ac$b247f0b7$@infospacemail.com",
        ),
    ],
)
def test_bounces_report_recipients_action_and_original_message(relative, recipients, action, original_id):
    parsed = sample(relative)
    assert parsed.is_bounce
    assert parsed.is_automated
    assert not parsed.is_complaint
    assert parsed.bounced_recipients == recipients
    assert parsed.bounce_action == action
    assert parsed.original_message_id == original_id


def test_feedback_report_is_a_complaint():
    parsed = sample("flanker/complaints/aol.eml")
    assert parsed.is_complaint
    assert not parsed.is_bounce
    assert parsed.is_automated
    assert parsed.report_type == "feedback-report"
    assert parsed.original_message_id == "20101117174130.28884.55421@luna"
    assert parsed.x_loop == ("scomp",)


def test_read_receipt_is_automated_but_not_a_bounce():
    parsed = sample("flanker/disposition-notification.eml")
    assert parsed.report_type == "disposition-notification"
    assert parsed.is_automated
    assert not parsed.is_bounce


def test_an_ordinary_message_is_neither_bounce_nor_automated():
    parsed = sample("django-helpdesk/quoted_printable.eml")
    assert not (parsed.is_bounce or parsed.is_complaint or parsed.is_automated)
    assert parsed.bounced_recipients == ()
    assert parsed.original_message_id == ""


# Automation (RFC 3834 and common practice) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "auto_submitted", "precedence"),
    [
        ("Auto-Submitted: auto-replied", "auto-replied", ""),
        ("Auto-Submitted: Auto-Generated (failure)", "auto-generated", ""),
        ("Precedence: bulk", "", "bulk"),
        ("Precedence: list", "", "list"),
        ("Precedence: Junk", "", "junk"),
        ("X-Auto-Response-Suppress: DR, OOF, AutoReply", "", ""),
        ("X-Auto-Response-Suppress: All", "", ""),
        ("List-Id: Example news <news.example.com>", "", ""),
        ("List-Unsubscribe: <mailto:leave@example.com>", "", ""),
        ("Return-Path: <>", "", ""),
        ("X-Autoreply: yes", "", ""),
        ("X-Autorespond: Out of office", "", ""),
    ],
)
def test_automated_mail_is_recognised(header, auto_submitted, precedence):
    parsed = parse_email(mail(header))
    assert parsed.is_automated
    assert parsed.auto_submitted == auto_submitted
    assert parsed.precedence == precedence


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: no",
        "Precedence: first-class",
        "X-Auto-Response-Suppress: DR, RN",
        "Return-Path: <c@example.com>",
    ],
)
def test_a_person_writing_is_not_automated(header):
    parsed = parse_email(mail(header, "X-Loop: Support@Example.jp"))
    assert not parsed.is_automated
    assert parsed.auto_submitted == ""
    assert parsed.x_loop == ("support@example.jp",)


# Quotes and signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "Thanks, that fixed it.\n\nOn Fri, Nov 20, 2026 at 10:00 AM Taro Yamada <taro@example.jp> wrote:\n"
            "> Please restart the router.\n>\n> Taro\n",
            "Thanks, that fixed it.",
            id="gmail",
        ),
        pytest.param(
            "Thanks, that fixed it.\n\nOn Fri, Nov 20, 2026 at 10:00 AM Support Team of Example Corporation <\n"
            "support@example.jp> wrote:\n\n> Please restart the router.\n",
            "Thanks, that fixed it.",
            id="gmail-wrapped",
        ),
        pytest.param(
            "Still broken.\n\n________________________________\nFrom: Support <support@example.jp>\n"
            "Sent: Friday, November 20, 2026 10:00 AM\nTo: Bob\nSubject: RE: router\n\nPlease restart the router.\n",
            "Still broken.",
            id="outlook",
        ),
        pytest.param(
            "Still broken.\n\n-----Original Message-----\nFrom: Support <support@example.jp>\n"
            "Sent: Friday, November 20, 2026 10:00 AM\n\nPlease restart the router.\n",
            "Still broken.",
            id="outlook-original-message",
        ),
        pytest.param(
            "まだ直りません。\n\n________________________________\n差出人: サポート <support@example.jp>\n"
            "送信日時: 2026年11月20日 10:00\n宛先: 山田\n件名: RE: ルーター\n\n再起動してください。\n",
            "まだ直りません。",
            id="outlook-japanese",
        ),
        pytest.param(
            "ありがとうございます。解決しました。\n\n2026年11月20日(金) 10:00 山田 太郎 <taro@example.jp>:\n"
            "> ルーターを再起動してください。\n",
            "ありがとうございます。解決しました。",
            id="gmail-japanese",
        ),
        pytest.param(
            "ありがとうございます。\n\n2026年11月20日(金) 10:00 サポートセンター 株式会社エグザンプル <\n"
            "support@example.jp>:\n\n> ルーターを再起動してください。\n",
            "ありがとうございます。",
            id="gmail-japanese-wrapped",
        ),
        pytest.param(
            "了解しました。\n\n山田さんは書きました:\n> 再起動してください。\n",
            "了解しました。",
            id="san-wa-kakimashita",
        ),
        pytest.param(
            "了解しました。\n\nOn 2026/11/20 10:00, 山田 太郎 wrote:\n> 再起動してください。\n",
            "了解しました。",
            id="thunderbird",
        ),
        pytest.param("Works now.\n\n-- \nBob Smith\nACME Corp\n", "Works now.", id="signature"),
        pytest.param("Works now.\n\n-- \n" + "A long signature line\n" * 15, "Works now.", id="long-signature"),
        pytest.param("Works now.\n\n--\nBob\n", "Works now.", id="signature-without-space"),
        pytest.param(
            "Steps:\n--\n" + "".join(f"step {n}\n" for n in range(15)),
            "Steps:\n--\n" + "\n".join(f"step {n}" for n in range(15)),
            id="bare-dashes-in-content",
        ),
        pytest.param(
            "Works now.\n\nSent from my iPhone\n\n> On Nov 20, 2026, at 10:00, Support <s@example.jp> wrote:\n> Ok.\n",
            "Works now.",
            id="iphone",
        ),
        pytest.param("直りました。\n\niPhoneから送信\n", "直りました。", id="iphone-japanese"),
        pytest.param(
            "On Fri, Nov 20, 2026 Taro <t@example.jp> wrote:\n> Is it fixed?\n\nYes, it is.\n",
            "Yes, it is.",
            id="bottom-posting",
        ),
        pytest.param("> only a quote\n", "> only a quote", id="never-empty"),
    ],
)
def test_new_text_keeps_only_what_the_reply_adds(body, expected):
    parsed = parse_email(mail(body=body))
    assert parsed.new_text == expected
    assert parsed.text == body.strip()


def test_an_outlook_original_message_is_cut_but_kept_in_text():
    parsed = sample("django-helpdesk/forwarded-message.eml")
    assert parsed.new_text == "This is email body"
    assert "Hello there!" in parsed.text


def test_a_forwarded_message_inline_is_content_not_a_quote():
    parsed = sample("mikel-mail/plain_emails/raw_email8.eml")
    assert "Test attachments oddly encoded with japanese charset." in parsed.new_text


def test_new_text_of_an_empty_signature_falls_back_to_the_text():
    assert new_text_of("-- \nBob") == "-- \nBob"


# HTML ----------------------------------------------------------------------------------------------


def test_html_only_mail_gets_text_and_sanitized_html():
    html = "<html><body><script>alert('x')</script><p>Hello <b>there</b></p><p>Second</p></body></html>"
    parsed = parse_email(mail(body=html, content_type="text/html; charset=utf-8"))
    assert parsed.text == "Hello there\nSecond"
    assert "<script" not in parsed.html
    assert "alert" not in parsed.html
    assert "<b>there</b>" in parsed.html


def test_html_charset_from_a_meta_tag():
    html = '<html><head><meta charset="windows-1251"></head><body><p>Привет, мир</p></body></html>'
    parsed = parse_email(mail(body=html.encode("cp1251"), content_type="text/html"))
    assert parsed.text == "Привет, мир"


def test_multipart_alternative_takes_the_plain_text():
    parsed = sample("django-helpdesk/quoted_printable.eml")
    assert parsed.subject == "Český test"
    assert parsed.text == "Tohle je test českých písmen odeslaných z gmailu."
    assert parsed.html == "<div>Tohle je test českých písmen odeslaných z gmailu.</div>\n"
    assert parsed.attachments == ()


NESTED = b"""From: Customer <customer@example.com>
Subject: Screenshot
Message-ID: <nested@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"

--mixed
Content-Type: multipart/related; boundary="related"

--related
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

See the screenshot.
--alt
Content-Type: text/html; charset=utf-8

<p>See the <img src="cid:shot@example.com"> screenshot.</p>
--alt--
--related
Content-Type: image/png
Content-ID: <shot@example.com>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--related--
--mixed
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf
Content-Transfer-Encoding: base64

JVBERi0=
--mixed
Content-Type: message/rfc822

From: Someone Else <else@example.org>
Subject: The original
Message-ID: <inner@example.org>

Secret inner body
--mixed
Content-Type: text/plain; name="../../etc/passwd"
Content-Disposition: attachment

root:x:0:0
--mixed--
"""


def test_nested_mixed_related_alternative_with_inline_image_and_attachments():
    parsed = parse_email(NESTED)
    assert parsed.text == "See the screenshot."
    assert 'src="cid:shot@example.com"' in parsed.html
    image, pdf, forwarded, passwd = parsed.attachments
    assert (image.content_type, image.content_id, image.content) == (
        "image/png",
        "shot@example.com",
        b"\x89PNG\r\n\x1a\n",
    )
    assert (pdf.filename, pdf.content_type, pdf.content) == ("見積書.pdf", "application/pdf", b"%PDF-")
    assert (forwarded.filename, forwarded.content_type) == ("forwarded-message.eml", "message/rfc822")
    assert "Secret inner body" not in parsed.text
    enclosed = email.message_from_bytes(forwarded.content, policy=email.policy.default)
    assert enclosed["Subject"] == "The original"
    assert enclosed.get_content().strip() == "Secret inner body"
    assert passwd.filename == "passwd"
    assert not parsed.is_bounce  # an enclosed message is not a returned one
    assert parsed.original_message_id == ""


# Threading -----------------------------------------------------------------------------------------


def test_in_reply_to_and_references_tolerate_junk():
    parsed = parse_email(
        mail(
            "In-Reply-To: <a1@example.com> (Bob's message of Monday)",
            "References: <r1@example.com> junk <r2@example.com>\r\n <r1@example.com> <broken@",
        )
    )
    assert parsed.in_reply_to == ("a1@example.com",)
    assert parsed.references == ("r1@example.com", "r2@example.com")
    assert sample("mikel-mail/error_emails/multiple_references_with_one_invalid.eml").references == (
        "foo@bar.net",
        "baz@bar.net",
    )
    assert sample("mikel-mail/error_emails/empty_in_reply_to.eml").in_reply_to == ()


def test_message_id_without_brackets_and_generated_when_missing():
    assert parse_email(mail("Message-ID:  <Abc.123@Example.COM> ")).message_id == "Abc.123@Example.COM"
    assert parse_email(mail("Message-ID: 1234567890.ABC")).message_id == "1234567890.ABC"
    raw = mail("Message-ID:")
    parsed = parse_email(raw)
    assert parsed.message_id == "generated-" + hashlib.sha256(raw).hexdigest()[:40]
    assert len(parsed.message_id) == len("generated-") + 40
    assert parse_email(raw).message_id == parsed.message_id
    assert parse_email(raw + b" ").message_id != parsed.message_id


def test_sender_identity_and_recipients():
    parsed = parse_email(
        mail(
            "From: =?UTF-8?B?5bGx55SwIOWkqumDjg==?= <Taro@Example.JP>",
            "Reply-To: attacker@example.net",
            "To: Support <Support@Example.jp>, other@example.jp",
            "Cc: undisclosed-recipients:;",
            "Delivered-To: inbox+1@example.jp",
            "X-Original-To: support@example.jp",
            "Envelope-To: Sales@Example.jp",
            "Date: Fri, 20 Nov 2026 10:00:00 -0000",
        )
    )
    assert (parsed.from_name, parsed.from_address) == ("山田 太郎", "taro@example.jp")
    assert parsed.reply_to == ("attacker@example.net",)
    assert parsed.to == ("support@example.jp", "other@example.jp")
    assert parsed.cc == ()
    assert parsed.delivered_to == ("inbox+1@example.jp", "support@example.jp", "sales@example.jp")
    assert parsed.date == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert parse_email(mail("Date: not a date")).date is None


# Robustness ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"  \r\n\r\n",
        b"Subject: no sender\r\n\r\nbody",
        b"From: Nobody\r\n\r\nbody",
        b"From: a@example.com\r\n\r\n",
    ],
    ids=["empty", "blank", "no-from", "from-without-address", "nothing-in-it"],
)
def test_messages_without_sender_or_content_are_unparseable(raw):
    with pytest.raises(UnparseableEmail):
        parse_email(raw)


def test_broken_transfer_encodings_degrade():
    broken_base64 = parse_email(mail("Content-Transfer-Encoding: base64", body="SGVsbG8gd29ybGQ=!!!@@@\r\nx"))
    assert broken_base64.text.startswith("Hello world")
    broken_qp = parse_email(mail("Content-Transfer-Encoding: quoted-printable", body="caf=C3=A9 =ZZ =\r\n="))
    assert broken_qp.text.startswith("café =ZZ")


def test_nul_characters_and_huge_headers():
    parsed = parse_email(
        mail("Subject: a\x00b", "X-Junk: " + "x" * 20_000, "References: " + "<r@e> " * 4_000, body="he\x00llo")
    )
    assert parsed.subject == "ab"
    assert parsed.text == "hello"
    assert parsed.references == ("r@e",)
    long_subject = parse_email(mail("Subject: " + "=?UTF-8?Q?h=C3=A9?= " * 5_000))
    assert long_subject.subject == "hé" * 5_000


def test_deeply_nested_multiparts_do_not_crash():
    depth = 200
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    raw = b"From: a@example.com\r\nSubject: deep\r\n" + opening + b"Content-Type: text/plain\r\n\r\ndeep text\r\n"
    parsed = parse_email(raw)
    assert parsed.subject == "deep"


def test_binary_garbage_is_unparseable_or_parsed():
    garbage = random.Random(7).randbytes(8_192)
    for raw in (garbage, b"From: a@example.com\r\n" + garbage):
        assert_clean(parse_or_quarantine(raw))


SEEDS = [mail(), NESTED, mail("Content-Transfer-Encoding: base64", body="44GC44GE\r\n")]
SEEDS += [path.read_bytes() for path in SAMPLES if path.stat().st_size < 20_000]


def _mutate(seed: bytes, edits: list[tuple[int, bytes, bool]]) -> bytes:
    data = bytearray(seed)
    for position, chunk, replace in edits:
        at = position % (len(data) + 1)
        data[at : at + (len(chunk) if replace else 0)] = chunk
    return bytes(data)


@settings(derandomize=True, max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.one_of(
        st.binary(max_size=2_000),
        st.builds(
            _mutate,
            st.sampled_from(SEEDS),
            st.lists(st.tuples(st.integers(0, 20_000), st.binary(min_size=1, max_size=12), st.booleans()), max_size=6),
        ),
    )
)
def test_fuzzed_input_only_ever_raises_unparseable(raw):
    assert_clean(parse_or_quarantine(raw))
