"""Markdown to safe HTML (Python-Markdown, then nh3): one place for every rendered text."""

import markdown
import nh3

ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "p", "ul", "ol", "li", "strong", "em", "code", "pre",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td", "a", "hr", "br",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"*": {"id"}, "a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


def markdown_converter() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=["tables", "attr_list", "toc", "fenced_code"],
        extension_configs={"toc": {"toc_depth": "2-3"}},
    )


def clean(html: str) -> str:
    return nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, link_rel="noopener noreferrer"
    )


def render_markdown(text: str) -> str:
    return clean(markdown_converter().convert(text or ""))
