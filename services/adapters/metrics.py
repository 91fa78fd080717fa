"""Prometheus metrics of the service (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_DEAD_LETTERED = Counter(
    "premiers_mois_dead_letters_total", "Messages sent to a dead-letter topic", ["topic"]
)
STEPS_EMITTED = Counter("premiers_mois_steps_emitted_total", "step.due events published")
STEPS_REDELIVERED = Counter(
    "premiers_mois_steps_redelivered_total", "step.due re-emitted after no confirmation"
)
STEPS_EXPIRED = Counter(
    "premiers_mois_steps_expired_total",
    "Notifications not sent because they came due after (or too near) their deadline",
)
MAILS_SENT = Counter(
    "premiers_mois_mails_sent_total", "Mails accepted by the SMTP server", ["kind"]
)
MAILS_FAILED = Counter("premiers_mois_mails_failed_total", "Mails refused for good (5xx)")
SEND_LATENESS = Histogram(
    "premiers_mois_send_lateness_seconds",
    "Virtual seconds from a step's due time to its mail's acceptance",
    buckets=(0.1, 0.5, 1, 5, 30, 60, 300, 900, 3600, 86400),
)

# Gauges read from the store and the broker (the cross-process view: every service's
# work shows in the store whatever process did it); refreshed by `services.adapters.gauges`.
ENROLLMENTS_BY_STATUS = Gauge(
    "premiers_mois_enrollments_by_status", "Enrollments in the store, by status", ["status"]
)
STEPS_BY_STATUS = Gauge(
    "premiers_mois_steps_by_status",
    "Journey steps made into mails (rows), by status; the steps ahead are computed, not stored",
    ["status"],
)
STEPS_DUE = Gauge(
    "premiers_mois_steps_due",
    "Steps due by now (virtual time) and not yet sent, failed or cancelled: one per journey "
    "whose next step is due, and each step made into a mail and not sent yet",
)
OLDEST_DUE_SECONDS = Gauge(
    "premiers_mois_oldest_due_seconds",
    "Virtual seconds since the oldest step still unsent was due (0: nothing waits)",
)
CONSUMER_LAG = Gauge(
    "premiers_mois_consumer_lag",
    "Messages on a topic not yet processed by a consumer group",
    ["group", "topic"],
)
PERSONAL_DATA_PURGED = Counter(
    "premiers_mois_personal_data_purged_total",
    "Journeys whose address and names were erased after the retention period",
)
GAUGES_REFRESH_FAILED = Counter(
    "premiers_mois_gauges_refresh_failed_total",
    "Refreshes of the store and broker gauges that failed",
    ["source"],
)
EVENTS_PARKED = Counter(
    "premiers_mois_events_parked_total",
    "Business events parked until their business's creation arrives",
)
CONSUMER_STALLED_SECONDS = Gauge(
    "premiers_mois_consumer_stalled_seconds",
    "Seconds (virtual time) a partition with lag has made no progress (0: it moves)",
    ["group", "topic", "partition"],
)
