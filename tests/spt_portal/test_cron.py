from django_rq.cron import DjangoCronScheduler

from spt_portal.jobs import relay_outbox, worker_heartbeat


def test_cron_file_registers_the_periodic_jobs():
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("spt_portal/cron.py")
    jobs = {job.func: job for job in scheduler.get_jobs()}
    assert set(jobs) == {relay_outbox, worker_heartbeat}
    assert all(job.queue_name == "default" for job in jobs.values())
    assert jobs[relay_outbox].interval == 60
