"""Scheduled jobs: one scheduler process (``fiptrial scheduler run``), jobs in the database.

- :mod:`fiptrial.scheduler.lock`: the database lock that keeps a second scheduler idle;
- :mod:`fiptrial.scheduler.jobs`: the jobs, what each one does, and how a run is recorded;
- :mod:`fiptrial.scheduler.runner`: APScheduler (3.x, BlockingScheduler, SQLAlchemyJobStore in
  the platform database) and the reconciliation of stored jobs with the trials' configuration.

Web workers never import the runner: only the scheduler process runs jobs.
"""
