"""The adapters: the store, the broker, mail rendering, SMTP, the mail catcher, metrics,
logs, the clock."""
