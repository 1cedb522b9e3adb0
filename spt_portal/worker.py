"""The RQ worker the portal runs (``RQ["WORKER_CLASS"]``): rq's own, which also marks a
job's outbox row handed over when it starts the job (``spt_portal.outbox``)."""

import logging

from rq import SimpleWorker
from rq import Worker as RQWorker

from . import outbox

logger = logging.getLogger(__name__)


class OutboxConfirming:
    """Mixin for rq workers: confirm the outbox row of each job before it runs."""

    def perform_job(self, job, queue):
        try:
            outbox.confirm_started(job.id, connection=self.connection)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the job must still run
            # Its row stays pending; the relay marks it once its claim runs out (it finds
            # the job in Redis, or in the handed set once the job is gone).
            logger.warning("outbox: could not mark job %s started: %s", job.id, exc)
        return super().perform_job(job, queue)


class Worker(OutboxConfirming, RQWorker):
    """rq's forking worker (``manage.py rqworker``): one work horse per job."""


class InProcessWorker(OutboxConfirming, SimpleWorker):
    """Runs jobs in its own process (tests, ``rqworker --worker-class``)."""
