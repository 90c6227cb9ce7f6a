"""Public testing aids for routing: hypothesis strategies and a brute-force oracle.

    from hypothesis import given
    from routing import Router
    from routing.testing import routing_problems, oracle_best

    @given(routing_problems())
    def test_my_router(problem):
        plan, b = problem
        route = Router(plan).best_route(b.source, b.destination, b.now_s, b.size_bytes)
        expected = oracle_best(plan, b.source, b.destination, b.now_s, b.size_bytes)
        assert (route.key if route else None) == expected

Importing this package needs hypothesis (a test dependency); the oracle alone does not
(`routing.testing.oracle`).
"""

from .oracle import OracleRoute, oracle_best, oracle_routes
from .strategies import RATES_BYTES_PER_S, Bundle, bundles, contact_plans, contacts, routing_problems

__all__ = [
    "Bundle",
    "OracleRoute",
    "RATES_BYTES_PER_S",
    "bundles",
    "contact_plans",
    "contacts",
    "oracle_best",
    "oracle_routes",
    "routing_problems",
]
