"""Kafka topic names of the contract."""

BUSINESS_EVENTS = "business.events"
BUSINESS_EVENTS_DLQ = "business.events.dlq"
JOURNEY_EVENTS = "journey.events"
JOURNEY_EVENTS_DLQ = "journey.events.dlq"

ALL_TOPICS = (BUSINESS_EVENTS, BUSINESS_EVENTS_DLQ, JOURNEY_EVENTS, JOURNEY_EVENTS_DLQ)
