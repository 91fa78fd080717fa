"""The advisers' console's queries, one module per concern: `requests` (the requests with
search, filters, paging and « traité »), `notes`, `people` (finding a person), `bookings`
(a person's webinar seats, a session's registrants, an appointment's video link),
`history` (a person's mails: the ledger, then the computed plan ahead) and `rates` (the
dashboard's figures per letter and the online-account shares)."""
