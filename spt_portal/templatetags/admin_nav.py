"""The admin's list of apps and models, written in Python.

Django renders ``admin/app_list.html`` in the navigation sidebar of every admin page: a
template loop over our ~50 models cost ~7 ms a page (bench/README.md), more than the SQL
of a whole ticket page. ``templates/admin/app_list.html`` calls this tag instead, which
writes exactly Django's markup (a test renders both and compares them, in both
languages).
"""

from urllib.parse import quote

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

register = template.Library()


def _link_cell(model, anchor: str, show_changelinks: bool) -> str:
    if not model.get("admin_url") or not show_changelinks:
        return "<td></td>" if show_changelinks else ""
    if model.get("view_only"):
        css, label = "viewlink", gettext("View")
    else:
        css, label = "changelink", gettext("Change")
    return format_html(
        '<td><a href="{}" class="{}" aria-describedby="{}">{}</a></td>',
        model["admin_url"],
        css,
        anchor,
        label,
    )


def _model_row(app, model, path: str, show_changelinks: bool) -> str:
    name = str(model["object_name"]).lower()
    anchor = f"{app['app_label']}-{name}"
    admin_url = model.get("admin_url")
    current = bool(admin_url) and admin_url in path
    if admin_url:
        title = format_html(
            '<a href="{}"{}>{}</a>',
            admin_url,
            mark_safe(' aria-current="page"') if current else "",  # noqa: S308 - constant
            model["name"],
        )
    else:
        title = escape(model["name"])
    if model.get("add_url"):
        add = format_html(
            '<td><a href="{}" class="addlink" aria-describedby="{}">{}</a></td>',
            model["add_url"],
            anchor,
            gettext("Add"),
        )
    else:
        add = "<td></td>"
    return format_html(
        '<tr class="model-{}{}"><th scope="row" id="{}">{}</th>{}{}</tr>',
        name,
        " current-model" if current else "",
        anchor,
        title,
        mark_safe(add),  # noqa: S308 - format_html or a constant
        mark_safe(_link_cell(model, anchor, show_changelinks)),  # noqa: S308 - idem
    )


@register.simple_tag(takes_context=True)
def admin_app_list(context) -> str:
    """``admin/app_list.html`` for ``app_list``, ``show_changelinks`` and the request."""
    app_list = context.get("app_list")
    if not app_list:
        return format_html(
            "<p>{}</p>", gettext("You don’t have permission to view or edit anything.")
        )
    show_changelinks = bool(context.get("show_changelinks"))
    request = context.get("request")
    path = quote(request.path, safe="/") if request is not None else ""
    head = format_html(
        '<thead class="visually-hidden"><tr><th scope="col">{}</th><th scope="col">{}</th>'
        '<th scope="col">{}</th></tr></thead>',
        gettext("Model name"),
        gettext("Add link"),
        gettext("Change or view list link"),
    )
    parts = []
    for app in app_list:
        rows = "".join(_model_row(app, model, path, show_changelinks) for model in app["models"])
        parts.append(
            format_html(
                '<div class="app-{} module{}"><table><caption>'
                '<a href="{}" class="section" title="{}">{}</a></caption>{}{}</table></div>',
                app["app_label"],
                " current-app" if app["app_url"] in path else "",
                app["app_url"],
                # As blocktranslate: the name escaped, the translated text as it is.
                mark_safe(  # noqa: S308
                    gettext("Models in the %(name)s application") % {"name": escape(app["name"])}
                ),
                app["name"],
                head,
                mark_safe(rows),  # noqa: S308 - each row is format_html's
            )
        )
    return mark_safe("".join(parts))  # noqa: S308 - each part is format_html's
