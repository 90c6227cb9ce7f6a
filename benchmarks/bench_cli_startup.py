"""CLI start-up: `dtn --version`, `dtn --help`, `dtn status`, `dtn send` against bare `python -c pass`.

The peer is the interpreter itself, run interleaved with each command in the same loop (so a busy machine slows
both alike). `dtn status` and `dtn send` talk to a real node process (started here, loopback only). Prints the
median wall and CPU time of each, what the command adds over the bare interpreter, and the wall ratio. Target: each command <= 0.15 s
on an idle machine, i.e. <= ~0.11 s over Python's own start.

    python benchmarks/bench_cli_startup.py [--quick] [--baseline CHECKOUT]

`--baseline DIR` also runs the same commands from another checkout (e.g. a worktree of the commit before lazy
imports), interleaved in the same loop, and prints the ratio.
"""

from __future__ import annotations

import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def wall_and_cpu_s(cmd: list[str], env: dict[str, str], cwd: pathlib.Path) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system) the child used. `cwd` is a neutral directory: `python -c`
    puts the working directory first on sys.path, ahead of PYTHONPATH."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    from dtn.twin.runner.process import NodeProcess

    runs = 5 if "--quick" in sys.argv else 21
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dtn = [sys.executable, "-c", "import sys; from dtn.cli import run; sys.argv[0] = 'dtn'; run()"]
    with tempfile.TemporaryDirectory(prefix="dtn-bench-", dir="/tmp") as tmp:
        root = pathlib.Path(tmp)
        (root / "n.toml").write_text('[node]\nid = "ipn:1.0"\n[agent]\nsocket = "n.sock"\n')
        node = NodeProcess.start(root / "n.toml", log_path=root / "n.log")
        sock = str(root / "n.sock")
        try:
            commands = {
                "python -c pass (peer)": [sys.executable, "-c", "pass"],
                "dtn --version": dtn + ["--version"],
                "dtn --help": dtn + ["--help"],
                "dtn status": dtn + ["status", "--node", sock],
                "dtn send": dtn + ["send", "--node", sock, "--to", "ipn:1.9", "--data", "x"],
            }
            if "--baseline" in sys.argv:
                other = sys.argv[sys.argv.index("--baseline") + 1]
                for name in list(commands)[1:]:
                    commands[f"{name} (baseline)"] = commands[name]
            times: dict[str, list[float]] = {name: [] for name in commands}
            cpu: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(runs):
                for name, cmd in commands.items():
                    run_env = {**env, "PYTHONPATH": other} if name.endswith("(baseline)") else env
                    wall, used = wall_and_cpu_s(cmd, run_env, root)
                    times[name].append(wall)
                    cpu[name].append(used)
        finally:
            node.stop()
    base = statistics.median(times["python -c pass (peer)"])
    base_cpu = statistics.median(cpu["python -c pass (peer)"])
    print(f"load average {os.getloadavg()[0]:.1f}; {runs} runs each, interleaved; medians")
    print(f"{'command':<35} {'wall s':>7} {'over python':>12} {'CPU s':>7} {'over python':>12} {'ratio':>6}")
    for name, values in times.items():
        med, med_cpu = statistics.median(values), statistics.median(cpu[name])
        print(
            f"{name:<35} {med:>7.3f} {med - base:>12.3f} {med_cpu:>7.3f} {med_cpu - base_cpu:>12.3f} "
            f"{med / base:>5.2f}x"
        )


if __name__ == "__main__":
    main()
