"""One compute job in its own process: `python -m dtn.node.computeworker` (started by dtn.node.compute).

`python -m dtn.node.computeworker MODULE...` first imports the given modules (the node keeps such a warm
worker ready per slot, so a job does not wait for Python to start). Then it reads one CBOR map from stdin: `{"spec": "module:callable", "inputs": [bytes...], "params": {...}, "cpu_s": s,
"memory_bytes": n, "output_bytes": n}`. Sets its own limits with `resource.setrlimit` (RLIMIT_CPU: the kernel
sends SIGXCPU and the process dies; RLIMIT_AS: allocations fail with MemoryError), imports the registered
function, runs it, and writes one CBOR array to stdout: `[0, result]`, or `[1, reason]` (exit status 1). The
function's own prints go to stderr, so they cannot corrupt the answer.
"""

from __future__ import annotations

import importlib
import math
import os
import resource
import sys

import cbor2

EXIT_FAILED = 1
EXIT_MEMORY = 3
EXIT_OUTPUT = 4


def _answer(out, item, code: int) -> None:
    out.write(cbor2.dumps(item))
    out.flush()
    sys.exit(code)


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the function's prints go to stderr
    sys.stdout = sys.stderr
    for module_name in sys.argv[1:]:  # a warm worker: the registered modules are imported before the job comes
        try:
            importlib.import_module(module_name)
        except Exception:  # reported when the job calls it
            pass
    job = cbor2.loads(sys.stdin.buffer.read())
    usage = resource.getrusage(resource.RUSAGE_SELF)  # RLIMIT_CPU counts the whole process: add what is used
    cpu_s = max(1, math.ceil(usage.ru_utime + usage.ru_stime + float(job["cpu_s"])))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    mem = int(job["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    try:
        module_name, attr = job["spec"].split(":", 1)
        fn = getattr(importlib.import_module(module_name), attr)
        result = fn(list(job["inputs"]), dict(job["params"]))
    except MemoryError:
        _answer(out, [1, f"memory limit of {mem} bytes exceeded"], EXIT_MEMORY)
    except Exception as exc:  # the function's failure is the job's failure reason
        _answer(out, [1, f"{type(exc).__name__}: {exc}"[:1000]], EXIT_FAILED)
    if not isinstance(result, (bytes, bytearray)):
        _answer(out, [1, f"function returned {type(result).__name__}, not bytes"], EXIT_FAILED)
    if len(result) > int(job["output_bytes"]):
        _answer(
            out, [1, f"output of {len(result)} bytes exceeds the limit of {job['output_bytes']} bytes"], EXIT_OUTPUT
        )
    _answer(out, [0, bytes(result)], 0)


if __name__ == "__main__":
    main()
