"""FAQ change control: drafts, compliance approval, versions, schedules and notices in Redis."""
