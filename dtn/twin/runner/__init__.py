"""The Trio side of replay and the digital twin (I/O: sockets, processes, Trio's clock).

- `simulate`: every node of a plan in one `trio.run` under `MockClock`, linked by in-memory streams;
- `replay`: one `dtn node run` process per node, with link emulators between them;
- `linkemu`: the one link emulator (in-memory stream ends for `simulate`, a loopback TCP pump for `replay`);
- `process`: starting, watching and stopping `dtn node run` processes (`NodeProcess`);
- `archive`: the twin's archive workload driver.

The pure pieces they use (workloads, link schedules, reports) are the rest of `dtn.twin`; nothing outside
this subpackage in `dtn.twin` imports Trio or `dtn.node` (tests/test_layering.py).
"""
