from . import health, support


def queue_comment_for_aws(sender, comment, **kwargs):
    support.queue_push(comment)
    health.customer_update_posted(comment)
