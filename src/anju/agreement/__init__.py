"""Signing (签约): agreements, sign order numbers, documents, amendments, conditions, payment
schedules, vacating and demolition records."""
