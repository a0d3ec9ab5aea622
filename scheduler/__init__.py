"""The scheduler process: APScheduler fires the job table of `workers.schedule`, one leader at a time."""
