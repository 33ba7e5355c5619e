"""Japanese is a first-class language: every page a person uses, and what we send to Japanese customers,
must read in Japanese, and the committed catalogue (locale/ja/LC_MESSAGES/django.po and its compiled
django.mo) must translate every string the code marks for translation."""

import gettext
import re
from datetime import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from channels_app.acknowledge import acknowledge
from channels_app.models import WebForm
from customers.models import Customer
from helpdesk.models import Inbox, Message, Ticket
from helpdesk.services.tickets import add_internal_note, change_status, open_ticket, receive_customer_message
from tests.factories import PASSWORD, BusinessHoursFactory

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "ja" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"

JA = {"HTTP_ACCEPT_LANGUAGE": "ja-JP,ja;q=0.9,en;q=0.5"}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_japanese_afterwards():
    """LocaleMiddleware activates the request's language in this thread and leaves it active: later tests
    in the same process must not inherit Japanese."""
    yield
    translation.deactivate()


# --- The catalogue -----------------------------------------------------------------------------------


def _unquote(text: str) -> str:
    """The value of one PO string literal (without its quotes)."""
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda match: escapes.get(match.group(1), match.group(0)), text)


def parse_po(path: Path) -> list[dict]:
    """The entries of a PO file: msgctxt, msgid, msgid_plural, msgstr (a dict of plural index to text),
    flags and the line it starts on. Obsolete (#~) entries are left out."""
    entries: list[dict] = []
    entry: dict | None = None
    field: tuple | None = None
    flags: set[str] = set()

    def start(line_number: int) -> dict:
        nonlocal flags
        new = {"msgctxt": None, "msgid": "", "msgid_plural": None, "msgstr": {}, "flags": flags, "line": line_number}
        flags = set()
        entries.append(new)
        return new

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == '"' or line.startswith('"'):
            assert entry is not None and field is not None, f"{path}:{number}: a string outside an entry"
            rest = line
        elif keyword == "msgctxt" or (keyword == "msgid" and (field is None or field[0] != "msgctxt")):
            entry = start(number)
            field = (keyword,)
        elif keyword in ("msgid", "msgid_plural", "msgstr"):
            field = (keyword,)
        elif keyword.startswith("msgstr["):
            field = ("msgstr", int(keyword[len("msgstr[") : -1]))
        else:
            raise AssertionError(f"{path}:{number}: cannot parse {raw!r}")
        assert rest.startswith('"') and rest.endswith('"'), f"{path}:{number}: not a string: {raw!r}"
        value = _unquote(rest[1:-1])
        if field[0] == "msgstr":
            index = field[1] if len(field) > 1 else 0
            entry["msgstr"][index] = entry["msgstr"].get(index, "") + value
        else:
            entry[field[0]] = (entry[field[0]] or "") + value
    return entries


@pytest.fixture(scope="module")
def po_entries() -> list[dict]:
    assert PO_FILE.exists(), f"{PO_FILE} is missing: run manage.py makemessages -l ja"
    return parse_po(PO_FILE)


def _messages(po_entries):
    return [entry for entry in po_entries if entry["msgid"] != ""]


def test_the_catalogue_header_is_japanese_with_one_plural_form(po_entries):
    [header] = [entry for entry in po_entries if entry["msgid"] == ""]
    text = header["msgstr"][0]
    assert "Language: ja\n" in text
    assert "Content-Type: text/plain; charset=UTF-8\n" in text
    assert "Plural-Forms: nplurals=1; plural=0;\n" in text
    assert "fuzzy" not in header["flags"]


def test_every_string_is_translated_and_none_is_fuzzy(po_entries):
    messages = _messages(po_entries)
    assert len(messages) > 100, "the catalogue looks truncated"
    untranslated = [entry["msgid"] for entry in messages if not all(entry["msgstr"].values()) or not entry["msgstr"]]
    fuzzy = [entry["msgid"] for entry in messages if "fuzzy" in entry["flags"]]
    assert untranslated == []
    assert fuzzy == []
    assert "#, fuzzy" not in PO_FILE.read_text(encoding="utf-8")


def test_translations_keep_their_placeholders(po_entries):
    placeholder = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sdif]|%[sdif]|\{\{ *[\w.]+ *\}\}")
    wrong = [
        (entry["msgid"], text)
        for entry in _messages(po_entries)
        for text in entry["msgstr"].values()
        if sorted(placeholder.findall(text)) != sorted(placeholder.findall(entry["msgid"]))
    ]
    assert wrong == []


def test_translations_are_japanese(po_entries):
    """Every translation of a sentence or label has Japanese in it; only product names, protocol names and
    the like may stay as they are."""
    kept_as_is = {"SSL/TLS", "STARTTLS", "LINE", "API"}
    japanese = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
    not_japanese = [
        entry["msgid"]
        for entry in _messages(po_entries)
        if entry["msgid"] not in kept_as_is and not all(japanese.search(text) for text in entry["msgstr"].values())
    ]
    assert not_japanese == []


def test_the_compiled_catalogue_matches_the_po_file(po_entries):
    """CI machines and deployments may not have gettext: the committed .mo must be compiled from this .po."""
    assert MO_FILE.exists(), f"{MO_FILE} is missing: run manage.py compilemessages -l ja"
    with MO_FILE.open("rb") as file:
        catalog = gettext.GNUTranslations(file)._catalog
    stale = []
    for entry in _messages(po_entries):
        key = entry["msgid"] if entry["msgctxt"] is None else f"{entry['msgctxt']}\x04{entry['msgid']}"
        if entry["msgid_plural"] is None:
            if catalog.get(key) != entry["msgstr"][0]:
                stale.append(entry["msgid"])
        elif any(catalog.get((key, index)) != text for index, text in entry["msgstr"].items()):
            stale.append(entry["msgid"])
    assert stale == [], "django.mo is out of date: run manage.py compilemessages -l ja"


@pytest.mark.parametrize(
    ("english", "japanese"),
    [
        ("Inbox", "受信箱"),
        ("Assignee", "担当者"),
        ("Internal note", "社内メモ"),
        ("Pending (waiting on the customer)", "保留中（お客様の返信待ち）"),
        ("Solved", "解決済み"),
        ("Closed", "クローズ"),
        ("Log in", "ログイン"),
    ],
)
def test_the_glossary_is_used(english, japanese):
    with translation.override("ja"):
        assert translation.gettext(english) == japanese


# --- Pages -------------------------------------------------------------------------------------------


@pytest.fixture
def ticket(inbox, customer, agent):
    ticket = open_ticket(inbox=inbox, customer=customer, subject="配送について")
    receive_customer_message(ticket=ticket, body_text="荷物はいつ届きますか？")
    add_internal_note(ticket=ticket, agent=agent, body_text="大阪の倉庫を確認")
    change_status(ticket=ticket, status="pending", actor=agent)
    return ticket


def test_the_language_switch_turns_pages_japanese(client, agent, ticket):
    client.force_login(agent)
    assert "<th>Status</th>" in client.get(reverse("home")).content.decode()

    response = client.post(reverse("set_language"), {"language": "ja", "next": "/"})
    assert response.status_code == 302

    page = client.get(reverse("home")).content.decode()
    assert '<html lang="ja">' in page
    assert "<th>ステータス</th>" in page
    assert "保留中（お客様の返信待ち）" in page


def test_the_login_page_is_japanese(client, agent):
    page = client.get(reverse("login"), **JA).content.decode()
    assert '<html lang="ja">' in page
    assert "<title>ログイン</title>" in page
    assert "<h1>ログイン</h1>" in page
    assert ">ログイン</button>" in page
    assert "ユーザー名" in page and "パスワード" in page  # Django's own translations of the login form
    assert "Log in" not in page

    failed = client.post(reverse("login"), {"username": agent.username, "password": "wrong"}, **JA)
    assert "ユーザー名とパスワードが一致しません。もう一度お試しください。" in failed.content.decode()

    logged_in = client.post(reverse("login"), {"username": agent.username, "password": PASSWORD}, **JA)
    assert logged_in.status_code == 302


def test_an_agents_inbox_is_japanese(client, agent, ticket):
    client.force_login(agent)
    page = client.get(reverse("home"), **JA).content.decode()

    assert "<title>受信箱</title>" in page and "<h1>受信箱</h1>" in page
    for header in ("件名", "ステータス", "優先度", "顧客", "チャネル", "チーム", "担当者", "更新日時"):
        assert f"<th>{header}</th>" in page
    for english in ("Subject", "Status", "Priority", "Customer", "Channel", "Team", "Assignee", "Updated"):
        assert f"<th>{english}</th>" not in page
    assert ">保留中（お客様の返信待ち）</span>" in page
    assert "<td>普通</td>" in page  # priority
    assert "<td>メール</td>" in page  # channel
    assert ">絞り込み</button>" in page
    assert ">ログアウト</button>" in page
    assert "ヘルプデスク" in page


def test_an_empty_inbox_says_so_in_japanese(client, agent):
    client.force_login(agent)
    assert "チケットはありません。" in client.get(reverse("home"), **JA).content.decode()


def test_a_ticket_page_is_japanese(client, agent, ticket):
    client.force_login(agent)
    page = client.get(reverse("ticket-page", args=[ticket.pk]), **JA).content.decode()

    assert "← 受信箱</a>" in page
    assert ">保留中（お客様の返信待ち）</span>" in page
    assert "優先度: 普通" in page
    assert "顧客: 田中 花子" in page
    assert "受信箱: Support email" in page
    assert "チーム: Tier 1" in page
    assert "担当者: —" in page
    assert "<strong>社内メモ</strong>" in page  # the note in the timeline
    # The reply form.
    assert "公開返信" in page and ">社内メモ</option>" in page
    assert "メッセージ" in page
    assert "送信後のステータス" in page and "ステータスを変更しない" in page
    assert ">解決済み</option>" in page
    assert ">送信</button>" in page


def test_a_customers_pages_are_japanese(client, customer_user, ticket):
    client.force_login(customer_user)
    inbox_page = client.get(reverse("home"), **JA).content.decode()
    assert "<h1>お問い合わせ履歴</h1>" in inbox_page
    assert "<th>件名</th>" in inbox_page and "<th>ステータス</th>" in inbox_page

    page = client.get(reverse("ticket-page", args=[ticket.pk]), **JA).content.decode()
    assert "← お問い合わせ履歴</a>" in page
    assert "社内メモ" not in page and "大阪の倉庫を確認" not in page
    assert ">送信</button>" in page


def test_the_no_access_page_is_japanese(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody"))
    response = client.get(reverse("home"), **JA)
    assert response.status_code == 403
    page = response.content.decode()
    assert "ヘルプデスクへのアクセス権がありません" in page
    assert "このアカウントは、このヘルプデスクのエージェントまたは顧客として登録されていません。" in page


@pytest.fixture
def web_form(db):
    return WebForm.objects.create(inbox=Inbox.objects.create(name="Web form", kind="web_form"))


def test_the_support_form_is_japanese(client, web_form):
    page = client.get("/support/new", **JA).content.decode()

    assert '<html lang="ja">' in page
    for label in ("お名前", "メールアドレス", "件名", "お問い合わせ内容", "添付ファイル"):
        assert f"{label}:</label>" in page
    assert ">送信</button>" in page
    for english in ("Your name", "Email address", "How can we help?", "Attachments"):
        assert english not in page


def test_support_form_errors_are_japanese(client, web_form):
    submission = client.get("/support/new", **JA).context["form"]["submission"].value()
    data = {"name": "田中\n花子", "email": "", "subject": "件名", "message": "本文", "submission": submission}
    page = client.post("/support/new", data, **JA).content.decode()
    assert "この項目は改行せずに1行で入力してください。" in page
    with translation.override("ja"):
        required = translation.gettext("This field is required.")  # Django's own translation
    assert required != "This field is required." and required in page


@pytest.mark.django_db(transaction=True)
def test_the_support_confirmation_is_japanese(client, web_form):
    submission = client.get("/support/new", **JA).context["form"]["submission"].value()
    data = {
        "name": "田中 花子",
        "email": "hanako@example.jp",
        "subject": "ログインできません",
        "message": "パスワードを再設定しても、ログインできません。",
        "submission": submission,
    }
    page = client.post("/support/new", data, **JA).content.decode()

    ticket = Ticket.objects.get()
    assert "<h1>お問い合わせありがとうございます</h1>" in page
    assert "お問い合わせを受け付けました。担当者よりメールにてご回答いたします。" in page
    assert f"お問い合わせ番号は #{ticket.pk} です。" in page


# --- What Japanese customers receive -----------------------------------------------------------------


def _acknowledgement(ticket: Ticket) -> Message:
    acknowledge(ticket=ticket, channel="email")
    return ticket.messages.get(event="acknowledgement")


def test_the_acknowledgement_to_a_japanese_customer_is_japanese(inbox):
    customer = Customer.objects.create(name="山田 太郎", preferred_language="ja")
    ticket = open_ticket(inbox=inbox, customer=customer, subject="返金について")

    with translation.override("en"):
        message = _acknowledgement(ticket)
        assert translation.get_language() == "en"  # the customer's language does not leak out

    assert message.body_text.startswith(
        "お問い合わせいただきありがとうございます。ご依頼を受け付けました。"
        f"お問い合わせ番号は #{ticket.pk} です。"
        "本件についてご連絡いただく際は、件名にこの番号を残したままお送りください。"
    )
    assert message.data["subject"] == "お問い合わせを受け付けました"
    assert message.is_public


def test_a_japanese_acknowledgement_with_support_hours_has_no_english_in_it(inbox):
    inbox.business_hours = BusinessHoursFactory(
        time_zone="Asia/Tokyo", periods=[(day, time(9), time(18)) for day in range(5)]
    )
    inbox.save()
    customer = Customer.objects.create(name="山田 太郎", preferred_language="ja")
    ticket = open_ticket(inbox=inbox, customer=customer, subject="返金について")

    text = _acknowledgement(ticket).body_text

    assert text.startswith("お問い合わせいただきありがとうございます。")
    assert re.findall(r"[A-Za-z]{2,}", text.replace("Asia/Tokyo", "")) == []


@pytest.mark.parametrize("language", ["en", ""])
def test_the_acknowledgement_to_other_customers_stays_english(inbox, language):
    customer = Customer.objects.create(name="John Smith", preferred_language=language)
    ticket = open_ticket(inbox=inbox, customer=customer, subject="Refund")

    with translation.override("ja"):
        message = _acknowledgement(ticket)

    assert message.body_text.startswith("Thank you for contacting us.")
    assert f"#{ticket.pk}" in message.body_text
    assert message.data["subject"] == "We have received your request"
