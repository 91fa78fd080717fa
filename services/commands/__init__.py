"""The command-line parts of `premiers-mois` (dead letters, journeys, mails)."""
