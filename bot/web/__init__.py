"""Every HTTP surface of the service: handlers, middlewares and sub-apps."""
