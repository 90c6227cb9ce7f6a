"""Default traffic and faults for the ready-made scenarios (used when no --traffic/--faults file is given).

The milsca default is the demo's story: the ground centre at Fucino pushes Earth observation products into the
constellation for users on other continents, then Fucino and Matera go down for six hours (a disaster) while
the products stored in orbit keep reaching the users.
"""

from __future__ import annotations

from typing import Iterable

from contact_plans.model import ContactPlan
from dtn.twin.workload import Workload, parse_faults, parse_traffic

# Users of the Fucino products: one or more stations on every other continent.
MILSCA_USERS = [
    "Malargue",
    "Santiago",
    "New Norcia",
    "Awarua",
    "Hartebeesthoek",
    "Malindi",
    "Singapore",
    "Inuvik",
    "Wallops",
    "McMurdo",
]
HOUR_S = 3600.0


def milsca_tables(duration_s: float, bundles: int, *, outage: bool = True) -> tuple[dict, dict]:
    """The demo: products from Fucino (and Matera) before and around a 6 h outage of both centres."""
    outage_start_s = min(3 * HOUR_S, duration_s / 4)
    outage_end_s = min(outage_start_s + 6 * HOUR_S, duration_s)
    push_end_s = outage_start_s
    fucino = max(1, int(bundles * 0.8))
    matera = max(1, bundles - fucino)
    traffic = {
        "seed": 1,
        "flow": [
            {
                "name": "fucino-eo-products",
                "from": "Fucino",
                "to": MILSCA_USERS,
                "size_bytes": 200_000,
                "count": fucino,
                "start_s": 60,
                "end_s": push_end_s,
                "lifetime_s": 24 * HOUR_S,
            },
            {
                "name": "matera-products",
                "from": "Matera",
                "to": MILSCA_USERS[::-1],
                "size_bytes": 100_000,
                "count": matera,
                "start_s": 120,
                "end_s": push_end_s,
                "lifetime_s": 24 * HOUR_S,
            },
        ],
    }
    faults = {"fault": []}
    if outage:
        faults["fault"] = [
            {"kind": "node_down", "node": "Fucino", "from_s": outage_start_s, "to_s": outage_end_s},
            {"kind": "node_down", "node": "Matera", "from_s": outage_start_s, "to_s": outage_end_s},
        ]
    return traffic, faults


def generic_tables(plan: ContactPlan, duration_s: float, bundles: int) -> tuple[dict, dict]:
    """Data centres send to users (and users upload to data centres) over the first half of the run."""
    roles: dict[str, list[str]] = {}
    for node in sorted(plan.nodes, key=lambda n: n.number):
        roles.setdefault(str(node.metadata.get("role", "")), []).append(node.name or str(node.number))
    centres = roles.get("data_centre") or roles.get("user") or [plan.nodes[0].name]
    users = (roles.get("user") or roles.get("gateway") or [n.name for n in plan.nodes if n.name not in centres])[:10]
    half = max(60.0, duration_s / 2)
    flows = []
    per = max(1, bundles // (2 * len(centres)))
    for i, centre in enumerate(centres):
        flows.append(
            {
                "name": f"{centre}-downlink",
                "from": centre,
                "to": users,
                "size_bytes": 100_000,
                "count": per,
                "start_s": 30,
                "end_s": half,
                "lifetime_s": 24 * HOUR_S,
            }
        )
        flows.append(
            {
                "name": f"uplink-{centre}",
                "from": users[i % len(users)],
                "to": centre,
                "size_bytes": 20_000,
                "count": per,
                "start_s": 45,
                "end_s": half,
                "lifetime_s": 24 * HOUR_S,
            }
        )
    return {"seed": 1, "flow": flows}, {"fault": []}


def default_workload(plan: ContactPlan, scenario: str | None, duration_s: float, bundles: int = 200) -> Workload:
    if scenario == "milsca":
        traffic, faults = milsca_tables(duration_s, bundles)
    else:
        traffic, faults = generic_tables(plan, duration_s, bundles)
    flows, seed = parse_traffic(traffic, plan, source=f"default traffic of {scenario or 'plan'}")
    return Workload(flows=flows, faults=parse_faults(faults, plan, source="default faults"), seed=seed)


def milsca_demo(plan: ContactPlan, duration_s: float, bundles: int, *, satellite_losses: int = 2, seed: int = 1):
    """The demo: the milsca default traffic and outage, plus the orbital archive. Fucino backs up its products
    (objects of 500 kB, three replicas on distinct orbital planes) in the first hour; during the outage of
    Fucino and Matera, `satellite_losses` satellites are lost for good, and the user stations ask for every
    product every two hours. Returns (Workload, ArchiveWorkload) for `SimulationOptions(archive=...)`."""
    import random

    from dtn.archive.workload import ArchiveWorkload
    from dtn.twin.workload import Fault

    workload = default_workload(plan, "milsca", duration_s, bundles)
    outage = [f for f in workload.faults if f.kind == "node_down"]
    outage_from_s = min(f.from_s for f in outage)
    outage_to_s = max(f.to_s for f in outage)
    rng = random.Random(seed)
    satellites = sorted(n.number for n in plan.nodes if "plane" in (n.metadata or {}))
    for sat in sorted(rng.sample(satellites, min(satellite_losses, len(satellites)))):
        workload.faults.append(Fault(kind="kill_node", node=sat, at_s=outage_from_s + rng.uniform(0, 1800.0)))
    fucino = plan.node_by_name("Fucino").number
    users = tuple(plan.node_by_name(name).number for name in MILSCA_USERS)
    objects = max(1, min(10, bundles // 40))
    puts = tuple((600.0 + 120.0 * i, f"fucino/eo-product-{i:02d}", 500_000) for i in range(objects))
    gets, t = [], outage_from_s + 1800.0
    while t < min(outage_to_s, duration_s):
        gets.append(t)
        t += 2 * HOUR_S
    archive = ArchiveWorkload(origin=fucino, users=users, puts=puts, gets_at_s=tuple(gets), seed=seed)
    return workload, archive


def outage_experiment(
    plan: ContactPlan,
    *,
    duration_s: float,
    origin: int = 1,
    objects: int = 3,
    object_bytes: int = 200_000,
    put_at_s: float = 600.0,
    outage_from_s: float = 3600.0,
    outage_s: float = 6 * 3600.0,
    satellite_losses: int = 3,
    gets_every_s: float = 3600.0,
    users: Iterable[int] | None = None,
    mode: str = "archive",
    seed: int = 0,
):
    """The twin experiment of docs/archive.md: the origin centre puts `objects` objects, goes down for
    `outage_s` (a `node_down` fault), `satellite_losses` random satellites are lost for good (`kill_node`
    faults) during the outage, and every user station asks for every object put so far at the outage start and
    every `gets_every_s` after. Returns `(dtn.twin.workload.Workload, ArchiveWorkload)` for the twin."""
    import random

    from dtn.archive.workload import ArchiveWorkload, baseline_users
    from dtn.twin.workload import Fault, Workload

    rng = random.Random(seed)
    sats = sorted(n.number for n in plan.nodes if "plane" in (n.metadata or {}))
    faults = [Fault(kind="node_down", node=origin, from_s=outage_from_s, to_s=outage_from_s + outage_s)]
    for sat in sorted(rng.sample(sats, min(satellite_losses, len(sats)))) if mode == "archive" else []:
        faults.append(Fault(kind="kill_node", node=sat, at_s=outage_from_s + rng.uniform(0, outage_s / 2)))
    user_nodes = tuple(users) if users is not None else baseline_users(plan, exclude=(origin,))
    puts = tuple((put_at_s + 60.0 * i, f"products/obj-{i}", object_bytes) for i in range(objects))
    gets = []
    t = outage_from_s + 300.0
    while t < duration_s:
        gets.append(t)
        t += gets_every_s
    archive = ArchiveWorkload(
        origin=origin,
        users=user_nodes,
        puts=puts,
        gets_at_s=tuple(gets),
        mode=mode,
        get_timeout_s=6 * 3600.0,
        seed=seed,
    )
    return Workload(faults=faults, seed=seed), archive
