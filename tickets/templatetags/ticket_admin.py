from django import template

from tickets.admin_queue import queue_result_list

register = template.Library()


@register.inclusion_tag("admin/change_list_results.html")
def ticket_result_list(cl):
    """The engineer queue's rows (``tickets.admin_queue``), in Django's results template."""
    return queue_result_list(cl)
