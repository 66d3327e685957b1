"""Escalation: the human queue, cases, the private channel and the staff console."""
