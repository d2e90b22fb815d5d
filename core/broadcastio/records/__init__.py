"""Records: what is sent and what happened (messages, results, traces, health,
retry policies, rate limits), plus the checks and the converter they share.

They import only ``broadcastio.errors``: every layer above builds on them.
"""
