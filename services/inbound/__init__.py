"""`premiers-mois run inbound`: the SMTP listener for the service's own addresses
(bounces, complaints, unsubscribe by mail)."""
