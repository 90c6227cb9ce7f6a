"""The router's cache under random plan changes and bookings: every cached answer must equal a fresh search
and the oracle (a stateful test, as hypothesis's RuleBasedStateMachine runs it)."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from routing import Router
from routing.testing import contact_plans, contacts, oracle_best
from tests.conftest import examples


class CachedRouter(RuleBasedStateMachine):
    @initialize(plan=contact_plans(min_nodes=3, max_nodes=5, min_contacts=4, max_contacts=10))
    def start(self, plan):
        self.router = Router(plan)
        self.nodes = plan.node_numbers()
        self.booked = []

    def _fresh_key(self, source, destination, now_s, size):
        cached = self.router.best_route(source, destination, now_s, size)
        self.router.clear_cache()
        fresh = self.router.best_route(source, destination, now_s, size)
        return cached, fresh

    @rule(data=st.data(), now4=st.integers(0, 240), size=st.sampled_from([1, 8, 64, 300]))
    def ask(self, data, now4, size):
        source = data.draw(st.sampled_from(self.nodes))
        destination = data.draw(st.sampled_from([n for n in self.nodes if n != source]))
        now_s = now4 / 4
        first = self.router.best_route(source, destination, now_s, size)
        again = self.router.best_route(source, destination, now_s, size)
        assert first == again
        live = self.router.contacts()
        residual = {c: self.router.residual_bytes(c) for c in live}
        queued = {c: self.router.queued_bytes(c) for c in live}
        expected = oracle_best(live, source, destination, now_s, size, residual_bytes=residual, queued_bytes=queued)
        assert (None if first is None else first.key) == expected
        self.router.clear_cache()
        fresh = self.router.best_route(source, destination, now_s, size)
        assert (None if fresh is None else fresh.key) == expected
        # keep a few answers in the cache for the next rules
        self.router.routes(source, destination, now_s, size, k=3)
        if first is not None and data.draw(st.booleans()):
            self.router.book(first, size)
            self.booked.append((first, size))

    @precondition(lambda self: self.booked)
    @rule(data=st.data())
    def release(self, data):
        route, size = self.booked.pop(data.draw(st.integers(0, len(self.booked) - 1)))
        self.router.release(route, size)

    @rule(data=st.data())
    def add(self, data):
        self.router.add_contact(data.draw(contacts(nodes=self.nodes, horizon_s=60)))

    @precondition(lambda self: self.router.contacts())
    @rule(data=st.data(), what=st.sampled_from(["remove", "fail", "cut", "sent"]))
    def change(self, data, what):
        contact = data.draw(st.sampled_from(self.router.contacts()))
        if what == "remove":
            self.router.remove_contact(contact)
        elif what == "fail":
            self.router.mark_failed(contact)
        elif what == "cut":
            self.router.cut_contact(contact, data.draw(st.integers(int(contact.start_s), int(contact.end_s))))
        else:
            self.router.mark_sent(contact, data.draw(st.integers(0, 64)))

    @invariant()
    def cached_lists_match_fresh_ones(self):
        if not hasattr(self, "router"):
            return
        for key, entry in list(self.router._cache.items()):
            kind, source, destination, size, excluded = key[:5]
            if kind != "k":
                continue
            cached = [r.key for r in entry.result]
            fresh = Router(self.router.contacts())
            for c in fresh.contacts():
                fresh._residual[fresh._id_of[c]] = self.router.residual_bytes(c)
                fresh._queued[fresh._id_of[c]] = self.router.queued_bytes(c)
            now_s = entry.computed_at_s
            if source in fresh.nodes and destination in fresh.nodes:
                got = [r.key for r in fresh.routes(source, destination, now_s, size, k=key[5], excluded=excluded)]
            else:
                got = []
            assert cached == got


TestCachedRouter = CachedRouter.TestCase
TestCachedRouter.settings = settings(max_examples=examples(200), stateful_step_count=10, deadline=None)
