import pytest

from knowledge_base import services


@pytest.fixture
def category(db):
    return services.category_create(slug="orders", name_en="Orders & delivery", name_ja="ご注文・配送")


@pytest.fixture
def make_article(category):
    """An article with the given translations, as (title, body); published unless told otherwise."""

    def make(slug, *, en=None, ja=None, publish=True, in_category=None, author=None):
        article = services.article_create(category=in_category or category, slug=slug)
        for language, words in (("en", en), ("ja", ja)):
            if words:
                title, body = words
                services.translation_create(article=article, language=language, title=title, body=body, author=author)
        return services.article_publish(article=article) if publish else article

    return make


@pytest.fixture
def shop_articles(make_article):
    """A small help center: delivery, returns, passwords, in both languages."""
    return {
        "shipping": make_article(
            "shipping-times",
            en=("Shipping times", "Orders placed by 14:00 ship the same day. Delivery takes 1-3 days."),
            ja=("配送について", "14時までのご注文は当日に発送します。お届けまで1〜3日かかります。"),
        ),
        "returns": make_article(
            "returns",
            en=("Returns and refunds", "You can return unused items within 30 days. Refunds take 5 days."),
            ja=("返品・返金について", "未使用の商品はお届けから30日以内であれば返品いただけます。"),
        ),
        "password": make_article(
            "password-reset",
            en=("Resetting your password", "Choose Forgot your password on the sign-in page."),
            ja=("パスワードの再設定", "ログイン画面の「パスワードをお忘れの方」を押してください。"),
        ),
    }
