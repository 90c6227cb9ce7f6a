"""Pure pieces of replay and the digital twin: traffic and fault files, link schedules, reports.

Nothing here does I/O on sockets or reads a clock; the Trio side lives in `dtn.node.linkemu`, `dtn.node.simulate`
and `dtn.node.replay`.
"""
