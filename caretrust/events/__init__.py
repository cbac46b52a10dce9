"""Domain events: one transactional outbox in PostgreSQL for every app and partner webhooks.

A service announces a change with ``emit(...)`` inside its own transaction; the event row
commits with the change or not at all. After commit a Celery task hands it to every handler
subscribed to its type (``@handles(...)``, each a service of the receiving app, run once per
event), in order per aggregate. With Redis down the rows wait in PostgreSQL, and a beat job
(or ``manage.py run_outbox``) sweeps what is undelivered.
"""
