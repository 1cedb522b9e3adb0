"""The one list of periodic jobs. Run exactly one scheduler:

    python manage.py rqcron spt_portal/cron.py

Each job is idempotent, so a second scheduler started by mistake does no harm beyond
duplicate runs. Later apps add their jobs here (SLA breach scan, AWS polls, ...).
"""

from rq import cron

from spt_portal.jobs import relay_outbox, worker_heartbeat

# Hand over jobs that could not reach Redis when they were created.
cron.register(relay_outbox, queue_name="default", interval=60)
# Lets /healthz tell whether workers are taking jobs.
cron.register(worker_heartbeat, queue_name="default", interval=60)
