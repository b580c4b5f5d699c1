"""Celery beat: the schedule and the one-active-beat lock."""
