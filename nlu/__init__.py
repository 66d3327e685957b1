"""Message analysis: PHI detection, safety signals, FAQ intents and the triage policy."""
