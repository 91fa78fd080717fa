"""The domain: journeys, plans, date rules, booking rules, events, the entities with closed
types. Pure: no store, broker, SMTP, web, SQLAlchemy."""
