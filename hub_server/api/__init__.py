"""HTTP layer: thin routes, one error mapping, observability."""
