"""Demo help center (run by `manage.py demo`): a web shop's support articles in English and Japanese.

Idempotent: categories and articles that exist (by slug) are left as they are, edits included.
"""

from html import escape

from django.core.management.base import BaseCommand
from django.db import transaction

from knowledge_base import services
from knowledge_base.models import Article, Category

CATEGORIES = [
    # slug, English name, Japanese name
    ("orders-delivery", "Orders & delivery", "ご注文・配送"),
    ("returns-refunds", "Returns & refunds", "返品・返金"),
    ("payment-invoices", "Payment & invoices", "お支払い・請求書"),
    ("account-contact", "Account & contact", "アカウント・お問い合わせ"),
]

# slug, category, {language: (title, [paragraph or list of items, ...])}
ARTICLES = [
    ("shipping-times", "orders-delivery", {
        "en": ("Shipping times and costs", [
            "We ship from our warehouse in Chiba, Japan. Orders placed by 14:00 (JST) on a business day leave the "
            "same day; later orders leave the next business day.",
            [
                "Tokyo, Kanagawa, Saitama and Chiba: 1–2 days after shipping",
                "Other areas of Honshu: 2–3 days after shipping",
                "Hokkaido, Kyushu and Shikoku: 2–4 days after shipping",
                "Okinawa and remote islands: 3–7 days after shipping",
            ],
            "Shipping costs 550 yen per order and is free for orders of 5,000 yen or more. You can choose a "
            "delivery date and time window at checkout.",
            "Delivery may take longer during sales, the year-end holidays and bad weather. If your parcel has not "
            "arrived a week after shipping, please contact us with your order number.",
        ]),
        "ja": ("配送について（お届け日数・送料）", [
            "ご注文の商品は千葉県の物流センターから発送しています。営業日の14時までのご注文は当日に、"
            "それ以降のご注文は翌営業日に発送いたします。",
            [
                "東京都・神奈川県・埼玉県・千葉県：発送から1〜2日",
                "本州のその他の地域：発送から2〜3日",
                "北海道・九州・四国：発送から2〜4日",
                "沖縄県・離島：発送から3〜7日",
            ],
            "送料は1回のご注文につき550円（税込）です。5,000円（税込）以上のご注文は送料無料です。"
            "ご注文手続きの際に、お届け希望日と時間帯をご指定いただけます。",
            "セール期間中や年末年始、悪天候の際はお届けが遅れる場合があります。発送から1週間たっても商品が"
            "届かない場合は、注文番号を添えてお問い合わせください。",
        ]),
    }),
    ("order-tracking", "orders-delivery", {
        "en": ("Tracking your order", [
            "When your order ships, we email you the carrier and the tracking number. Follow the link in that "
            "email to see where your parcel is.",
            "You can also sign in, open My page > Order history and select the order. Its status is one of "
            "Received, Preparing, Shipped or Delivered.",
            "The tracking number can take a few hours to appear on the carrier's site after shipping. If the "
            "status has not changed for several days, contact us with your order number: it looks like "
            "100-1234567 and is in your order confirmation email.",
        ]),
        "ja": ("注文状況の確認", [
            "商品を発送しましたら、配送業者名とお問い合わせ番号（追跡番号）を記載した発送完了メールをお送り"
            "します。メール内のリンクから、荷物の配送状況をご確認いただけます。",
            "ログイン後、「マイページ」→「注文履歴」から該当のご注文を選んでいただくと、ご注文の状況"
            "（受付済み・準備中・発送済み・お届け済み）を確認できます。",
            "発送直後は、配送業者のサイトに追跡情報が反映されるまで数時間かかることがあります。数日たっても"
            "状況が変わらない場合は、注文番号（ご注文確認メールに記載の「100-1234567」のような番号）を添えて"
            "お問い合わせください。",
        ]),
    }),
    ("change-delivery-address", "orders-delivery", {
        "en": ("Changing the delivery address", [
            "You can change the delivery address until we start preparing the order for shipping. Sign in, open "
            "My page > Order history, select the order and choose Change delivery address.",
            "If the button is not shown, the order is already being prepared. Contact us with your order number "
            "and the new address as soon as possible and we will do what we can.",
            "Once the parcel has shipped, you can ask the carrier to redirect it, using the tracking number in "
            "the shipping email. Some carriers charge a fee for this.",
        ]),
        "ja": ("お届け先住所の変更", [
            "お届け先の変更は、ご注文の商品が発送準備に入る前まで承ります。ログイン後、「マイページ」→"
            "「注文履歴」から該当のご注文を選び、「お届け先を変更する」を押してください。",
            "ボタンが表示されない場合は、すでに発送準備に入っています。お手数ですが、注文番号と新しいお届け先を"
            "添えて、お早めにお問い合わせください。可能な限り対応いたします。",
            "発送後は、発送完了メールに記載のお問い合わせ番号を使って、配送業者に転送をご依頼いただけます。"
            "転送には手数料がかかる場合があります。",
        ]),
    }),
    ("returns-and-refunds", "returns-refunds", {
        "en": ("Returns and refunds", [
            "You can return unused items within 30 days of delivery. Sign in, open My page > Order history, "
            "select the order and choose Return items. We will email you a return label.",
            "If an item is defective or we sent the wrong item, the return is free. For other returns, the "
            "return shipping cost (550 yen) is deducted from the refund.",
            "We refund to the original payment method within 5 business days of your return reaching us. A card "
            "refund can take another billing cycle to show on your statement. Cash on delivery orders are "
            "refunded by bank transfer.",
            "Underwear, opened cosmetics and items marked Final sale cannot be returned.",
        ]),
        "ja": ("返品・返金について", [
            "未使用の商品は、お届けから30日以内であれば返品いただけます。ログイン後、「マイページ」→"
            "「注文履歴」から該当のご注文を選び、「返品を申し込む」を押してください。返送用の伝票をメールで"
            "お送りします。",
            "商品の不良や誤配送の場合、返品送料は当社が負担いたします。それ以外の理由による返品の場合は、"
            "返送料（550円）を差し引いて返金いたします。",
            "返品された商品が当社に到着してから5営業日以内に、ご注文時のお支払い方法で返金いたします。"
            "クレジットカードの場合、明細に反映されるまでさらに1〜2か月かかることがあります。代金引換での"
            "ご注文は、銀行振込で返金いたします。",
            "下着、開封済みの化粧品、「返品不可」と表示された商品は返品をお受けできません。",
        ]),
    }),
    ("payment-methods", "payment-invoices", {
        "en": ("Payment methods", [
            "We accept the following payment methods:",
            [
                "Credit and debit cards: Visa, Mastercard, JCB, American Express, Diners Club",
                "PayPay and other QR code payments",
                "Convenience store payment (pay within 3 days of ordering; the order ships once paid)",
                "Cash on delivery (fee: 330 yen)",
                "Bank transfer (pay within 7 days of ordering)",
            ],
            "Cards are charged when the order ships. If a payment fails, check the card number, expiry date and "
            "security code, or try another payment method.",
        ]),
        "ja": ("お支払い方法", [
            "以下のお支払い方法をご利用いただけます。",
            [
                "クレジットカード・デビットカード（Visa、Mastercard、JCB、American Express、Diners Club）",
                "PayPayなどのQRコード決済",
                "コンビニ払い（ご注文から3日以内にお支払いください。ご入金の確認後に発送します）",
                "代金引換（手数料330円）",
                "銀行振込（ご注文から7日以内にお振り込みください）",
            ],
            "クレジットカードのご請求は、商品の発送時に確定します。決済ができない場合は、カード番号・"
            "有効期限・セキュリティコードをご確認いただくか、別のお支払い方法をお試しください。",
        ]),
    }),
    ("invoices-receipts", "payment-invoices", {
        "en": ("Invoices and receipts", [
            "You can download a receipt for any order that has shipped. Sign in, open My page > Order history, "
            "select the order and choose Download receipt (PDF). You can enter the name to print on it, such as "
            "your company name.",
            "Our receipts are qualified invoices under Japan's invoice system: they show our registration "
            "number and the consumption tax for each tax rate.",
            "For cash on delivery orders the carrier's receipt is your proof of payment, but you can still "
            "download a receipt from My page. If you need an invoice before paying, for example for a company "
            "purchase, contact us with the items and quantities.",
        ]),
        "ja": ("請求書・領収書の発行", [
            "発送済みのご注文については、領収書をダウンロードいただけます。ログイン後、「マイページ」→"
            "「注文履歴」から該当のご注文を選び、「領収書をダウンロード（PDF）」を押してください。宛名には"
            "会社名などをご入力いただけます。",
            "当社の領収書は適格請求書（インボイス）の要件を満たしており、登録番号と税率ごとの消費税額を"
            "記載しています。",
            "代金引換の場合は配送業者の領収書がお支払いの証明となりますが、マイページから領収書をダウンロード"
            "することもできます。法人でのご購入などで、お支払い前に請求書が必要な場合は、商品と数量を添えて"
            "お問い合わせください。",
        ]),
    }),
    ("password-reset", "account-contact", {
        "en": ("Resetting your password", [
            "On the sign-in page, choose Forgot your password? and enter the email address of your account. We "
            "will send you a link to set a new password. The link is valid for 24 hours.",
            "If the email does not arrive within a few minutes, check your spam folder and make sure you entered "
            "the address you registered with. Please allow email from support@example.com.",
            "For your security, our staff can never see or tell you your password. If you can no longer use your "
            "email address, contact us and we will help you confirm your identity.",
        ]),
        "ja": ("パスワードの再設定", [
            "ログイン画面の「パスワードをお忘れの方」を押し、ご登録のメールアドレスを入力してください。"
            "パスワード再設定用のリンクをメールでお送りします。リンクの有効期限は24時間です。",
            "数分たってもメールが届かない場合は、迷惑メールフォルダをご確認のうえ、ご登録のメールアドレスを"
            "正しく入力したかお確かめください。support@example.com からのメールを受信できるよう設定を"
            "お願いします。",
            "セキュリティのため、当社スタッフがお客様のパスワードを確認したり、お伝えしたりすることは"
            "できません。ご登録のメールアドレスをお使いいただけない場合は、お問い合わせください。ご本人確認の"
            "うえ対応いたします。",
        ]),
    }),
    ("support-hours", "account-contact", {
        "en": ("Support hours and how to contact us", [
            "Our support team answers chat, email and LINE messages on weekdays from 9:00 to 18:00 (JST), "
            "except national holidays and the year-end holidays (December 29 to January 3).",
            "You can send us a message at any time. Messages sent outside support hours are answered from the "
            "next business day, in the order they arrived. Our chat assistant answers common questions around "
            "the clock.",
            "Phone support: 0120-000-000, weekdays from 10:00 to 17:00.",
            "If your question is about an order, please include your order number so we can answer quickly.",
        ]),
        "ja": ("サポート時間・お問い合わせ方法", [
            "チャット・メール・LINEでのお問い合わせは、平日9時〜18時（土日祝日、年末年始の12月29日〜1月3日を"
            "除く）に対応しております。",
            "お問い合わせはいつでもお送りいただけます。サポート時間外にいただいたお問い合わせには、翌営業日以降、"
            "受付順にご回答いたします。よくあるご質問には、チャットの自動応答で24時間お答えしています。",
            "お電話でのお問い合わせ：0120-000-000（平日10時〜17時）",
            "ご注文に関するお問い合わせの際は、注文番号をお知らせいただくとスムーズにご案内できます。",
        ]),
    }),
]  # fmt: skip


def body_html(blocks: list) -> str:
    """Paragraphs and bulleted lists as HTML."""
    parts = []
    for block in blocks:
        if isinstance(block, list):
            items = "".join(f"<li>{escape(item)}</li>" for item in block)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append(f"<p>{escape(block)}</p>")
    return "\n".join(parts)


class Command(BaseCommand):
    help = "Demo help center articles in English and Japanese (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            categories = self._categories()
            created = self._articles(categories)
        self.stdout.write(f"  Help center: http://127.0.0.1:8000/help/ ({created} new article(s))")

    def _categories(self) -> dict[str, Category]:
        existing = {category.slug: category for category in Category.objects.all()}
        for position, (slug, name_en, name_ja) in enumerate(CATEGORIES):
            if slug not in existing:
                existing[slug] = services.category_create(
                    slug=slug, name_en=name_en, name_ja=name_ja, position=position
                )
        return existing

    def _articles(self, categories: dict[str, Category]) -> int:
        existing = set(Article.objects.values_list("slug", flat=True))
        created = 0
        for position, (slug, category_slug, translations) in enumerate(ARTICLES):
            if slug in existing:
                continue
            article = services.article_create(category=categories[category_slug], slug=slug, position=position)
            for language, (title, blocks) in translations.items():
                services.translation_create(article=article, language=language, title=title, body=body_html(blocks))
            services.article_publish(article=article)
            created += 1
        return created
