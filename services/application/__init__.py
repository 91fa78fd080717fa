"""The application: workflows that change state (in one transaction) and ask for mails
through the ledger."""
