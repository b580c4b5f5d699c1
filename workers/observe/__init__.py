"""What operators see: the figures of `backroom metrics` (Prometheus) and `backroom status`.

- `queues`: how many messages wait in each of Backroom's queues, read from the broker.
- `snapshot`: those depths with the database's figures (`domain.services.vitals`) and each
  scheduled entry's lag, taken in one go.
- `events`: task durations, failures and retries, counted from the workers' Celery events
  (sent by each worker's main process, so every pool process's tasks are counted once).
- `exporter`: the Prometheus collector and HTTP server.
"""
