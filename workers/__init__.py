"""The composition root: settings, the Celery app, the command line, embedded servers."""
