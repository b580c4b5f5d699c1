"""Celery tasks, one thin module per area (arrives with the order pipeline)."""
