"""The node: bundle processing, contact manager, agent API, config (Trio lives here and in dtn.cla)."""
