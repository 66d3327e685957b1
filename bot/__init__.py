"""triagebot service: HTTP intake, platform connectors and the command line."""
