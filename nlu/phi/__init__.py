"""PHI and PII detection on top of presidio-analyzer."""
