"""The delivery engine: messages, results, traces, retries, health, and the orchestrator."""
