"""Use cases: create/update/delete specs, quotas, audit; no HTTP, no subprocess."""
