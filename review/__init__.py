"""review: the review packet and status report for the committee (no database, no prefect)."""
