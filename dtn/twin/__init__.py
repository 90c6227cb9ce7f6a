"""Replay and the digital twin.

The package itself is pure: traffic and fault files, link schedules, reports (no sockets, no clock, no Trio).
The Trio side (the twin runner, replay controller, link emulator, OS process runner, archive twin driver) is
the subpackage `dtn.twin.runner`, which is the only part that may import `dtn.node`.
"""
