"""Platform connectors (Meta, X): parse webhooks into InboundMessages, send OutboundActions."""
