"""The Celery app the benchmark's worker runs: the project's own app (same settings, same
broker, acks-late, prefetch 1) plus a no-op task, so the no-op throughput is the ceiling that
the project's real tasks can be compared with.

The task counts itself in Redis: with no result backend configured, a counter is the cheapest
honest way for the benchmark to see every task finish (and to spot a duplicate or a loss).
"""

import redis
from django.conf import settings

from clinic.celery import app

NOOP_TASK = "bench.noop"
_redis = None


@app.task(name=NOOP_TASK, ignore_result=True)
def noop(counter_key: str) -> None:
    global _redis
    if _redis is None:  # one connection per worker process, made after the fork
        _redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    _redis.incr(counter_key)
