"""Making message bodies safe to store and display."""

import html

import nh3

# What a support conversation needs (formatting, links, lists, tables, quotes, inline images), nothing
# that runs script or loads from elsewhere except images, which the agent UI proxies or blocks.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "abbr": {"title"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def strip_nul(text: str) -> str:
    """PostgreSQL text cannot hold NUL; no honest message needs one."""
    return text.replace("\x00", "")


def sanitize_html(body: str) -> str:
    return nh3.clean(
        strip_nul(body),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def html_to_text(body: str) -> str:
    """A plain-text rendering of HTML for search, previews and channels that carry only text."""
    with_breaks = body
    for tag in ("</p>", "<br>", "<br/>", "<br />", "</div>", "</li>", "</tr>"):
        with_breaks = with_breaks.replace(tag, tag + "\n")
    text = html.unescape(nh3.clean(with_breaks, tags=set()))
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()
