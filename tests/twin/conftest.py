"""A small four-node plan with a link cut and a node crash, shared by the simulate and replay tests.

A(1)-B(2) is up 0..900 s, B-C(3) 1200..2400 s, A-D(4) 0..3600 s, D-C 1800..3000 s. CGR sends A's bundles for C
through B (arrival 1200 s) rather than D (1800 s). The A-B link is cut at 200 s, so later bundles must go
through D; B is SIGKILLed at 1000 s (holding the early bundles) and restarted at 1100 s.
"""

import pytest

from contact_plans.formats import save_plan
from contact_plans.model import Contact, ContactPlan, Node


def _both(a, b, start_s, end_s, rate=1e5, owlt_s=0.01):
    return [Contact(a, b, start_s, end_s, rate, owlt_s), Contact(b, a, start_s, end_s, rate, owlt_s)]


FOUR_NODE_TRAFFIC = {
    "seed": 3,
    "flow": [
        {
            "name": "a-to-c",
            "from": "A",
            "to": "C",
            "size_bytes": 2000,
            "count": 6,
            "start_s": 60,
            "end_s": 420,
            "lifetime_s": 7200,
        }
    ],
}
FOUR_NODE_FAULTS = {
    "fault": [
        {"kind": "cut_link", "a": "A", "b": "B", "at_s": 200},
        {"kind": "kill_node", "node": "B", "at_s": 1000, "restart_after_s": 100},
    ]
}


@pytest.fixture
def four_node_plan():
    return ContactPlan(
        nodes=[Node(1, "A"), Node(2, "B"), Node(3, "C"), Node(4, "D")],
        contacts=_both(1, 2, 0, 900) + _both(2, 3, 1200, 2400) + _both(1, 4, 0, 3600) + _both(4, 3, 1800, 3000),
        name="four",
    )


@pytest.fixture
def four_node_files(tmp_path, four_node_plan):
    """The plan, traffic and faults as files, for the CLI."""
    plan_path = tmp_path / "four.json"
    save_plan(four_node_plan, plan_path, "json")
    traffic = tmp_path / "traffic.toml"
    traffic.write_text(
        'seed = 3\n[[flow]]\nname = "a-to-c"\nfrom = "A"\nto = "C"\nsize_bytes = 2000\ncount = 6\n'
        "start_s = 60\nend_s = 420\nlifetime_s = 7200\n"
    )
    faults = tmp_path / "faults.toml"
    faults.write_text(
        '[[fault]]\nkind = "cut_link"\na = "A"\nb = "B"\nat_s = 200\n'
        '[[fault]]\nkind = "kill_node"\nnode = "B"\nat_s = 1000\nrestart_after_s = 100\n'
    )
    return plan_path, traffic, faults


def delivery_order(run_dir):
    """(flow, index) of each delivered bundle, in delivery order."""
    from dtn.twin.report import load_report

    report = load_report(run_dir)
    import json

    sends = [json.loads(line) for line in open(run_dir / "sends.jsonl")]
    by_key = {s["bundle"]: (s["flow"], s["index"]) for s in sends if s.get("bundle")}
    delivered = sorted(
        (b for b in report.bundles if b.delivered_s is not None), key=lambda b: (b.delivered_s, by_key[b.key])
    )
    return report, [by_key[b.key] for b in delivered]
