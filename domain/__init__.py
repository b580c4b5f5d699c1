"""The domain: SQLAlchemy models, services and ports; knows nothing of Celery or settings."""
