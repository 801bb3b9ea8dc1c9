"""Process entry points: the Temporal worker, the API server and the `lana` command line."""
