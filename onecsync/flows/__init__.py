"""The sync flows: receive, route and send, one module per concern; `runner` drives a command."""
