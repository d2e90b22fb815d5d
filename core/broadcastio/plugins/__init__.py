"""Plugin discovery and hooks: how providers and observers reach the orchestrator."""
