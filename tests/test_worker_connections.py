"""A Celery worker keeps its database connection between tasks by the web server's rule
(clinic/celery.py): kept while younger than CONN_MAX_AGE, closed once older."""

import time
from types import SimpleNamespace

import pytest
from celery import signals
from django.db import connection, transaction

import clinic.celery  # noqa: F401  (connects the handlers, as a worker's start does)


class Task:
    """Stands in for the task the signals are sent for: all the handler reads of it."""

    def __init__(self, *, is_eager: bool):
        self.request = SimpleNamespace(is_eager=is_eager)


WORKER_TASK, EAGER_TASK = Task(is_eager=False), Task(is_eager=True)


def between_tasks(task=WORKER_TASK) -> None:
    signals.task_postrun.send(sender=task)
    signals.task_prerun.send(sender=task)


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_connection_until_it_is_older_than_conn_max_age():
    connection.ensure_connection()
    opened = connection.connection
    between_tasks()
    if connection.settings_dict["CONN_MAX_AGE"]:  # PostgreSQL: 60 s unless configured
        assert connection.connection is opened
    connection.close_at = time.monotonic() - 1  # as if CONN_MAX_AGE had passed
    between_tasks()
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        # Django never closes the in-memory test database (it would vanish); the PostgreSQL
        # pass of `make test` checks the closing.
        assert connection.connection is opened
    else:
        assert connection.connection is None  # closed; the next query opens a fresh one


@pytest.mark.django_db(transaction=True)
def test_eager_tasks_and_open_transactions_keep_the_connection():
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1
    opened = connection.connection
    between_tasks(EAGER_TASK)  # run inside a request: the request's connection is not ours
    assert connection.connection is opened
    with transaction.atomic():
        between_tasks()
        assert connection.connection is opened
