"""Django's PostgreSQL backend with a health check that costs no round trip when the
connection is quiet.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every
request that reuses a connection: one round trip per request (the API creates a ticket in
eight). An idle connection has nothing to read; one the server closed (restart, failover,
``pg_terminate_backend``, ``idle_session_timeout``) has: PostgreSQL sends its FATAL
message and closes the socket. So the check looks at the socket first, without waiting,
and asks the server only when something arrived while the connection was idle (a notice,
a parameter change, the server going away). A connection cut without a word (a network
partition) passes either way: ``SELECT 1`` would hang on it as the request's query does.
"""

import select

from django.db.backends.postgresql import base

IDLE = base.Database.pq.TransactionStatus.IDLE


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        if self.connection is None or self.connection.closed:
            return False
        if not hasattr(select, "poll") or self.connection.info.transaction_status != IDLE:
            return super().is_usable()  # no poll() here, or not an idle connection: ask
        try:
            poller = select.poll()
            poller.register(self.connection.pgconn.socket, select.POLLIN | select.POLLPRI)
            quiet = not poller.poll(0)
        except (OSError, ValueError, base.Database.Error):
            return False
        return quiet or super().is_usable()
