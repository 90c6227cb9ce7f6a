"""Contact graph routing after CCSDS 734.3-B-1 (SABR), on a node graph.

`Router` holds a contact plan, the volume booked on each contact and the bytes queued on the contacts that
leave each node, and answers routing questions for a bundle at a given time (the delivery-time model is in
`routing.route`). It is pure: no I/O, no clock (`now_s` is always an argument), no global state.

Search: a label-setting search over nodes (Martins' multi-criteria variant of Dijkstra) with labels
``(arrival_s, hop_count)``. Arrival through a contact is non-decreasing in the time the bundle reaches the
contact's sender (FIFO), so the first label to reach the destination has the earliest arrival time and, among
the routes arriving then, the fewest hops: both exactly, as the oracle in `routing.testing` checks. Labels are
per node, so routes are loopless. On each (sender, receiver) pair the contacts are kept sorted by start with a
running maximum of their ends, so the first contact still open is found by bisection and the scan stops at the
first contact that starts after the best arrival found so far.

Tie-breaks, in order: earliest arrival; fewest hops; then the first route found by the search, which expands
labels in (arrival, hops, creation order), neighbours in increasing node number and, on one link, contacts in
increasing (start, end, rate, owlt, confidence). All are deterministic: the same plan, bookings and question
always give the same answer, whatever the order of the plan's lists.

Alternatives are Yen's k shortest loopless paths over contacts (distinct contact sequences, non-decreasing
(arrival, hops)); spur searches reuse the same label-setting search.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Iterable

from contact_plans.model import Contact, ContactPlan
from dtn.errors import PlanError, RoutingError

from .route import Route, latest_first_start_s

__all__ = ["Router", "MAX_K", "CACHE_ENTRIES"]

INF = math.inf
MAX_K = 1000
"""The largest number of alternative routes one request may ask for (bounds memory and time)."""
CACHE_ENTRIES = 4096
"""Routing answers kept in the router's cache (least recently used are dropped)."""


class _Sender:
    """The live contacts from one node, indexed for the search.

    `items` holds ``(start, end, rate, owlt, contact id, receiver index)`` sorted by start (then end, receiver,
    rate, owlt, confidence: an order of values, so answers do not depend on the order of the plan's lists) and
    `starts` their starts, for the search's cursor over contacts that open later. `buckets` maps a time bucket
    to the contacts that overlap it, to find the contacts open at a given time; contacts much longer than a
    bucket are kept in `long` instead (scanned every time) so that memory stays linear in the plan.
    """

    __slots__ = ("items", "starts", "buckets", "long")

    def __init__(self) -> None:
        self.items: list[tuple[float, float, float, float, int, int]] = []
        self.starts: list[float] = []
        self.buckets: dict[int, list[tuple[float, float, float, float, int, int]]] = {}
        self.long: list[tuple[float, float, float, float, int, int]] = []


@dataclass(slots=True)
class _CacheEntry:
    computed_at_s: float
    valid_until_s: float
    result: object  # Route | None | list[Route]
    contact_ids: frozenset[int]
    worst_arrival_s: float  # INF when the answer may be improved by any new option (None, short lists)


def _check_contact(c: Contact) -> list[str]:
    problems = []
    where = f"contact {c.from_node}->{c.to_node} {c.start_s:g}..{c.end_s:g}"
    for name in ("start_s", "end_s", "rate_bytes_per_s", "owlt_s"):
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"{where}: {name} must be a finite number, not {value!r}")
    if problems:
        return problems
    for name in ("from_node", "to_node"):
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"{where}: {name} must be a node number >= 0, not {value!r}")
    if not c.end_s > c.start_s:
        problems.append(f"{where}: end_s must be after start_s")
    if not c.rate_bytes_per_s > 0:
        problems.append(f"{where}: rate_bytes_per_s must be positive")
    if not c.owlt_s >= 0:
        problems.append(f"{where}: owlt_s must be >= 0")
    if c.from_node == c.to_node:
        problems.append(f"{where}: a contact must join two different nodes")
    return problems


class Router:
    """Contact graph routing over one contact plan (see the module docstring for the model and tie-breaks).

    Exact duplicate contacts (equal in every field) are kept once. A contact is identified by its value:
    pass the `Contact` objects of the plan or of a returned `Route` to `book`, `remove_contact`, ...
    """

    def __init__(self, plan: ContactPlan | Iterable[Contact]) -> None:
        contacts = list(plan.contacts) if isinstance(plan, ContactPlan) else list(plan)
        problems = [p for c in contacts for p in _check_contact(c)] if contacts else []
        if problems:
            shown = "; ".join(problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise PlanError(f"invalid contact plan for routing: {shown}{more}")
        self._contacts: list[Contact | None] = []
        self._id_of: dict[Contact, int] = {}
        self._volume: list[float] = []
        self._booked: list[float] = []
        self._residual: list[float] = []
        self._queued: list[float] = []
        self._failed: set[int] = set()
        self._nodes: set[int] = set()
        self._index: dict[int, int] = {}  # node number -> dense index used by the search
        self._senders: list[_Sender] = []  # per node index
        self._sender_ids: list[set[int]] = []  # per node index: ids of its live contacts
        # Time buckets: half a typical contact wide, at most 4096 over the plan; "long" is 64 buckets.
        durations = sorted(c.end_s - c.start_s for c in contacts)
        span = (max(c.end_s for c in contacts) - min(c.start_s for c in contacts)) if contacts else 0.0
        median = durations[len(durations) // 2] if durations else 60.0
        self._origin_s = min((c.start_s for c in contacts), default=0.0)
        self._width_s = max(median / 2, span / 4096, 1e-3)
        self._long_s = 64 * self._width_s
        if isinstance(plan, ContactPlan):
            for n in plan.nodes:
                self._add_node(n.number)
        self._cache: OrderedDict[tuple, _CacheEntry] = OrderedDict()
        self.cache_hits = 0
        self.cache_misses = 0
        for c in contacts:
            if c not in self._id_of:
                self._register(c)
        for u in range(len(self._senders)):
            self._rebuild_sender(u)

    def copy(self) -> "Router":
        """An independent router in the same state (bookings, failures, removals included).

        The per-node contact indexes are shared: they are never changed in place (a plan change builds a new
        index for the node concerned), so a copy costs list copies instead of re-indexing the whole plan. A node
        of the digital twin gets its router this way from one built per plan.
        """
        new = object.__new__(Router)
        new.__dict__.update(self.__dict__)
        for name in ("_contacts", "_volume", "_booked", "_residual", "_queued", "_senders"):
            setattr(new, name, list(getattr(self, name)))
        new._id_of = dict(self._id_of)
        new._failed = set(self._failed)
        new._nodes = set(self._nodes)
        new._index = dict(self._index)
        new._sender_ids = [set(ids) for ids in self._sender_ids]
        new._cache = OrderedDict()
        new.cache_hits = 0
        new.cache_misses = 0
        return new

    # -- plan bookkeeping -------------------------------------------------------------------------------------
    def _register(self, c: Contact) -> int:
        cid = len(self._contacts)
        self._contacts.append(c)
        self._id_of[c] = cid
        volume = c.volume_bytes
        self._volume.append(volume)
        self._booked.append(0.0)
        self._residual.append(volume)
        self._queued.append(0.0)
        self._add_node(c.from_node)
        self._add_node(c.to_node)
        self._sender_ids[self._index[c.from_node]].add(cid)
        return cid

    def _add_node(self, number: int) -> None:
        if number not in self._index:
            self._nodes.add(number)
            self._index[number] = len(self._senders)
            self._senders.append(_Sender())
            self._sender_ids.append(set())

    def _rebuild_sender(self, u: int) -> None:
        """Re-index the live contacts of the node with index `u`."""
        contacts, index = self._contacts, self._index
        keyed = []
        for cid in self._sender_ids[u]:
            c = contacts[cid]
            assert c is not None
            item = (float(c.start_s), float(c.end_s), float(c.rate_bytes_per_s), float(c.owlt_s), cid, index[c.to_node])
            keyed.append(((c.start_s, c.end_s, c.to_node, c.rate_bytes_per_s, c.owlt_s, c.confidence), item))
        keyed.sort(key=lambda pair: pair[0])
        sender = self._senders[u] = _Sender()
        sender.items = [item for _, item in keyed]
        sender.starts = [item[0] for item in sender.items]
        origin, width = self._origin_s, self._width_s
        for item in sender.items:
            if item[1] - item[0] > self._long_s:
                sender.long.append(item)
                continue
            for k in range(int((item[0] - origin) // width), int((item[1] - origin) // width) + 1):
                sender.buckets.setdefault(k, []).append(item)

    def _live(self, cid: int, live: bool) -> None:
        c = self._contacts[cid]
        assert c is not None
        u = self._index[c.from_node]
        if live:
            self._sender_ids[u].add(cid)
        else:
            self._sender_ids[u].discard(cid)
        self._rebuild_sender(u)

    def _id(self, contact: Contact) -> int:
        if not isinstance(contact, Contact):
            raise RoutingError(f"expected a Contact, got {type(contact).__name__}")
        cid = self._id_of.get(contact)
        if cid is None:
            raise RoutingError(
                f"unknown contact {contact.from_node}->{contact.to_node} {contact.start_s:g}..{contact.end_s:g}"
            )
        return cid

    @property
    def nodes(self) -> frozenset[int]:
        """Every node number the router knows (plan nodes and contact ends)."""
        return frozenset(self._nodes)

    def contacts(self) -> list[Contact]:
        """The contacts currently used for routing (removed and failed ones excluded), in (start, end) order."""
        live = [c for i, c in enumerate(self._contacts) if c is not None and i not in self._failed]
        return sorted(live, key=lambda c: (c.start_s, c.end_s, c.from_node, c.to_node))

    def contacts_from(self, node: int, now_s: float) -> list[Contact]:
        """The contacts from `node` that have not ended at `now_s` (removed and failed ones excluded), by
        (start, end, receiver)."""
        self._check_node(node, "node")
        now_s = self._check_time(now_s)
        sender = self._senders[self._index[node]]
        return [self._contacts[it[4]] for it in sender.items if it[1] > now_s]  # type: ignore[misc]

    def failed_contacts(self) -> list[Contact]:
        """Contacts reported failed with `mark_failed`."""
        return [self._contacts[i] for i in sorted(self._failed)]  # type: ignore[misc]

    def residual_bytes(self, contact: Contact) -> float:
        """The contact's volume minus the bytes booked on it (never below zero)."""
        return self._residual[self._id(contact)]

    def booked_bytes(self, contact: Contact) -> float:
        return self._booked[self._id(contact)]

    def queued_bytes(self, contact: Contact) -> float:
        """Bytes booked with this contact as first hop and not yet sent (delay the next first-hop start)."""
        return self._queued[self._id(contact)]

    # -- plan changes -----------------------------------------------------------------------------------------
    def add_contact(self, contact: Contact) -> None:
        """A contact discovered (or announced) at run time. Adding a contact already known does nothing."""
        if not isinstance(contact, Contact):
            raise RoutingError(f"expected a Contact, got {type(contact).__name__}")
        problems = _check_contact(contact)
        if problems:
            raise PlanError("; ".join(problems))
        if contact in self._id_of:
            return
        self._add(contact)
        self._invalidate_improvable([contact])

    def _add(self, contact: Contact) -> int:
        cid = self._register(contact)
        self._rebuild_sender(self._index[contact.from_node])
        return cid

    def remove_contact(self, contact: Contact) -> None:
        """A contact that will not happen. Bookings on it are dropped with it."""
        cid = self._id(contact)
        self._live(cid, False)
        self._contacts[cid] = None
        del self._id_of[contact]
        self._failed.discard(cid)
        self._invalidate_using({cid})

    def cut_contact(self, contact: Contact, new_end_s: float) -> Contact | None:
        """A contact that ends early at `new_end_s`. Returns the shortened contact (None if nothing is left:
        the contact is then removed). The bytes booked on it stay booked."""
        cid = self._id(contact)
        new_end_s = self._check_time(new_end_s, "new_end_s")
        if new_end_s > contact.end_s:
            raise RoutingError(f"cut_contact cannot extend a contact ({new_end_s:g} > {contact.end_s:g})")
        if new_end_s == contact.end_s:
            return contact
        if new_end_s <= contact.start_s:
            self.remove_contact(contact)
            return None
        shorter = replace(contact, end_s=new_end_s)
        booked, queued = self._booked[cid], self._queued[cid]
        self.remove_contact(contact)
        # Shortening only removes options, so answers that did not use the contact stay right.
        sid = self._id_of.get(shorter)  # an identical contact may exist already: merge the bookings into it
        if sid is None:
            sid = self._add(shorter)
        self._booked[sid] += booked
        self._queued[sid] += queued
        self._residual[sid] = max(0.0, self._volume[sid] - self._booked[sid])
        self._invalidate_using({sid})
        return shorter

    def mark_failed(self, contact: Contact) -> None:
        """A contact that was expected but failed (e.g. the link did not come up): routing stops using it.
        It stays known (see `failed_contacts`); bookings on it can still be released."""
        cid = self._id(contact)
        if cid in self._failed:
            return
        self._failed.add(cid)
        self._live(cid, False)
        self._invalidate_using({cid})

    def restore_contact(self, contact: Contact) -> None:
        """A contact marked failed works again (e.g. the session came back within the same contact): routing
        uses it again. A contact that was not marked failed is left as it is."""
        cid = self._id(contact)
        if cid not in self._failed:
            return
        self._failed.discard(cid)
        self._live(cid, True)
        self._invalidate_improvable([contact])

    # -- volume booking ---------------------------------------------------------------------------------------
    def book(self, route: Route, size_bytes: float) -> None:
        """A bundle was assigned to `route`: its size is booked on every contact of the route (residual volume
        drops, never below zero) and queued on the first contact."""
        size_bytes = self._check_size(size_bytes)
        ids = [self._id(c) for c in route.contacts]
        for cid in ids:
            self._booked[cid] += size_bytes
            self._residual[cid] = max(0.0, self._volume[cid] - self._booked[cid])
        self._queued[ids[0]] += size_bytes
        self._invalidate_using(set(ids))

    def release(self, route: Route, size_bytes: float) -> None:
        """A bundle booked on `route` will not be sent that way: undo `book` (contacts removed since are
        skipped; nothing drops below zero)."""
        size_bytes = self._check_size(size_bytes)
        released = []
        for i, c in enumerate(route.contacts):
            cid = self._id_of.get(c)
            if cid is None:
                continue
            self._booked[cid] = max(0.0, self._booked[cid] - size_bytes)
            self._residual[cid] = max(0.0, self._volume[cid] - self._booked[cid])
            if i == 0:
                self._queued[cid] = max(0.0, self._queued[cid] - size_bytes)
            released.append(c)
        self._invalidate_improvable(released)

    def mark_sent(self, contact: Contact, size_bytes: float) -> None:
        """`size_bytes` queued on `contact` (as a first hop) were transmitted: they leave the queue; the volume
        they used stays booked."""
        cid = self._id(contact)
        size_bytes = self._check_size(size_bytes)
        self._queued[cid] = max(0.0, self._queued[cid] - size_bytes)
        self._invalidate_improvable([contact])

    # -- cache ------------------------------------------------------------------------------------------------
    def cache_info(self) -> dict[str, int]:
        return {"hits": self.cache_hits, "misses": self.cache_misses, "entries": len(self._cache)}

    def clear_cache(self) -> None:
        self._cache.clear()

    def _invalidate_using(self, ids: set[int]) -> None:
        """Contacts lost volume or time: only answers that use them can change (others only got worse)."""
        for key in [k for k, e in self._cache.items() if e.contact_ids & ids]:
            del self._cache[key]

    def _invalidate_improvable(self, contacts: list[Contact]) -> None:
        """New options appeared on `contacts`: an answer can improve only if a route through one of them
        could arrive no later than the answer's worst route."""
        if not contacts:
            return
        earliest = min(c.start_s + c.owlt_s for c in contacts)
        for key in [k for k, e in self._cache.items() if e.worst_arrival_s >= earliest]:
            del self._cache[key]

    def _cache_get(self, key: tuple, now_s: float) -> tuple[bool, object]:
        entry = self._cache.get(key)
        if entry is not None and entry.computed_at_s <= now_s <= entry.valid_until_s:
            self._cache.move_to_end(key)
            self.cache_hits += 1
            return True, entry.result
        self.cache_misses += 1
        return False, None

    def _cache_put(self, key: tuple, now_s: float, routes: list[Route], complete: bool, result: object) -> None:
        # A route keeps its timeline (and so stays the best: every other route can only get later) as long as
        # its first hop would start at the same time: until that contact opens, or only now if it is open.
        valid_until = min((max(now_s, r.contacts[0].start_s) for r in routes), default=INF)
        worst = INF if complete or not routes else routes[-1].arrival_s
        ids = frozenset(self._id_of[c] for r in routes for c in r.contacts)
        self._cache[key] = _CacheEntry(now_s, valid_until, result, ids, worst)
        if len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)

    # -- argument checks --------------------------------------------------------------------------------------
    def _check_node(self, node: int, what: str) -> int:
        if isinstance(node, bool) or not isinstance(node, int):
            raise RoutingError(f"{what} must be a node number, not {node!r}")
        if node not in self._nodes:
            raise RoutingError(f"unknown {what} node {node}")
        return node

    @staticmethod
    def _check_time(t: float, what: str = "now_s") -> float:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise RoutingError(f"{what} must be a finite number of seconds, not {t!r}")
        return float(t)

    @staticmethod
    def _check_size(size: float) -> float:
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size) or size < 0:
            raise RoutingError(f"size_bytes must be a finite number >= 0, not {size!r}")
        return size

    def _check_request(
        self, source: int, destination: int, now_s: float, size_bytes: float, excluded: Iterable[int]
    ) -> tuple[float, float, frozenset[int]]:
        self._check_node(source, "source")
        self._check_node(destination, "destination")
        if source == destination:
            raise RoutingError(f"source and destination are the same node ({source})")
        now_s = self._check_time(now_s)
        size_bytes = self._check_size(size_bytes)
        try:
            excl = frozenset(excluded)
        except TypeError:
            raise RoutingError(f"excluded must be a set of node numbers, not {excluded!r}") from None
        for node in excl:
            if isinstance(node, bool) or not isinstance(node, int):
                raise RoutingError(f"excluded nodes must be node numbers, not {node!r}")
        return now_s, size_bytes, excl - {source}

    # -- the search -------------------------------------------------------------------------------------------
    def _search(
        self,
        src: int,
        dst: int,
        t_src: float,
        size: float,
        blocked: Iterable[int],
        banned: set[int] | None = None,
        use_queue: bool = True,
        first_hop: int | None = None,
        limit_s: float = INF,
    ):
        """Label-setting search; returns the destination's winning label or None.

        Heap entries are labels ``(arrival_s, hops, seq, node, contact_id, departure_s, parent_label)`` and
        cursors ``(start_s, hops, seq, node, -2, item_index, label)``. Popping a label relaxes the contacts open
        at its arrival and queues a cursor at the next contact that opens later; popping a cursor relaxes that
        contact and queues the next one. So contacts that open after the destination is reached are never
        looked at. `blocked` nodes are never entered, `banned` contact ids never used, `first_hop` restricts
        the first receiver, and labels arriving after `limit_s` are dropped.
        """
        index = self._index
        senders = self._senders
        residual = self._residual
        queued = self._queued
        origin, width = self._origin_s, self._width_s
        heappush, heappop = heapq.heappush, heapq.heappop
        n_nodes = len(senders)
        unset = 1 << 30
        # perm[v]: fewest hops of a permanent label at v (-1 marks a blocked node, never entered).
        perm = [unset] * n_nodes
        for b in blocked:
            bi = index.get(b)
            if bi is not None:
                perm[bi] = -1
        # tent_*[v]: one tentative label at v (the latest improvement), to drop dominated labels early.
        tent_arr = [INF] * n_nodes
        tent_hops = [unset] * n_nodes
        s_idx = index[src]
        d_idx = index[dst]
        fh_idx = -1 if first_hop is None else index.get(first_hop, -2)
        heap: list = [(t_src, 0, 0, s_idx, -1, t_src, None)]
        best_dst = limit_s
        seq = 1
        empty: list = []
        while heap:
            entry = heappop(heap)
            u = entry[3]
            h = entry[1]
            sender = senders[u]
            if entry[4] == -2:
                # A cursor: the next contact from u to open after the label's arrival.
                if perm[u] < h:
                    continue  # a label with fewer hops reached u since; its own cursor covers the rest
                j = entry[5]
                label = entry[6]
                items = sender.items
                if j + 1 < len(items) and items[j + 1][0] <= best_dst:
                    heappush(heap, (items[j + 1][0], h, seq, u, -2, j + 1, label))
                    seq += 1
                candidates = (items[j],)
                a = label[0]
            else:
                if perm[u] <= h:
                    continue
                perm[u] = h
                if u == d_idx:
                    return entry
                label = entry
                a = entry[0]
                starts = sender.starts
                j = bisect_right(starts, a)
                if j < len(starts) and starts[j] <= best_dst:
                    heappush(heap, (starts[j], h, seq, u, -2, j, entry))
                    seq += 1
                bucket = sender.buckets.get(int((a - origin) // width), empty)
                candidates = bucket + sender.long if sender.long else bucket
            h1 = h + 1
            at_src = u == s_idx
            if not at_src and banned is None and label is entry:
                # The common case, kept lean: a label away from the source, no banned contacts. Every contact
                # open at `a` starts sending at `a`.
                for s, e, rate, owlt, cid, v in candidates:
                    if s > a or e < a or perm[v] <= h1:
                        continue
                    fin = a + size / rate
                    if fin > e or residual[cid] < size:
                        continue
                    arr = fin + owlt
                    if arr > best_dst or (tent_hops[v] <= h1 and arr >= tent_arr[v]):
                        continue
                    if arr < tent_arr[v] or h1 < tent_hops[v]:
                        tent_arr[v] = arr
                        tent_hops[v] = h1
                    if v == d_idx:
                        best_dst = arr
                    heappush(heap, (arr, h1, seq, v, cid, a, label))
                    seq += 1
                continue
            queue_here = at_src and use_queue
            for s, e, rate, owlt, cid, v in candidates:
                if s > a and label is entry:
                    continue  # opens later: the cursor takes it
                if e < a or perm[v] <= h1:
                    continue
                if at_src and fh_idx != -1 and v != fh_idx:
                    continue
                if banned is not None and cid in banned:
                    continue
                t0 = a if a > s else s
                if queue_here:
                    q = queued[cid]
                    if q:
                        t0 = t0 + q / rate
                fin = t0 + size / rate
                if fin > e or residual[cid] < size:
                    continue
                arr = fin + owlt
                if arr > best_dst or (tent_hops[v] <= h1 and arr >= tent_arr[v]):
                    continue
                if arr < tent_arr[v] or h1 < tent_hops[v]:
                    tent_arr[v] = arr
                    tent_hops[v] = h1
                if v == d_idx:
                    best_dst = arr
                heappush(heap, (arr, h1, seq, v, cid, t0, label))
                seq += 1
        return None

    def _labels_to_route(self, entry, size: float) -> Route:
        ids: list[int] = []
        departures: list[float] = []
        arrivals: list[float] = []
        while entry is not None and entry[4] >= 0:
            ids.append(entry[4])
            departures.append(entry[5])
            arrivals.append(entry[0])
            entry = entry[6]
        ids.reverse()
        departures.reverse()
        arrivals.reverse()
        return self._make_route(ids, departures, arrivals, size)

    def _make_route(self, ids: list[int], departures: list[float], arrivals: list[float], size: float) -> Route:
        contacts = tuple(self._contacts[i] for i in ids)
        volume = INF
        for cid, c, t0 in zip(ids, contacts, departures):
            left = (c.end_s - t0) * c.rate_bytes_per_s  # type: ignore[union-attr]
            r = self._residual[cid]
            v = left if left < r else r
            if v < volume:
                volume = v
        return Route(
            contacts=contacts,  # type: ignore[arg-type]
            arrival_s=arrivals[-1],
            hop_count=len(ids),
            volume_bytes=volume,
            best_before_s=latest_first_start_s(contacts, size),  # type: ignore[arg-type]
            departures_s=tuple(departures),
            arrivals_s=tuple(arrivals),
            size_bytes=size,
        )

    # -- public questions -------------------------------------------------------------------------------------
    def best_route(
        self,
        source: int,
        destination: int,
        now_s: float,
        size_bytes: float,
        *,
        excluded: Iterable[int] = frozenset(),
    ) -> Route | None:
        """The best route (earliest arrival, then fewest hops) for a bundle of `size_bytes` at `source` at
        `now_s`, avoiding the `excluded` nodes anywhere on the route; None if there is none."""
        now_s, size_bytes, excl = self._check_request(source, destination, now_s, size_bytes, excluded)
        key = ("best", source, destination, size_bytes, excl)
        hit, result = self._cache_get(key, now_s)
        if hit:
            return result  # type: ignore[return-value]
        route = self._best(source, destination, now_s, size_bytes, excl)
        self._cache_put(key, now_s, [route] if route else [], route is None, route)
        return route

    def _best(self, source, destination, now_s, size_bytes, excl, first_hop=None) -> Route | None:
        if destination in excl:
            return None
        entry = self._search(source, destination, now_s, size_bytes, excl, first_hop=first_hop)
        return None if entry is None else self._labels_to_route(entry, size_bytes)

    def routes(
        self,
        source: int,
        destination: int,
        now_s: float,
        size_bytes: float,
        *,
        k: int = 5,
        excluded: Iterable[int] = frozenset(),
    ) -> list[Route]:
        """Up to `k` best loopless routes (Yen's algorithm over contacts): distinct contact sequences, sorted
        by (arrival, hops). The first is `best_route`."""
        now_s, size_bytes, excl = self._check_request(source, destination, now_s, size_bytes, excluded)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise RoutingError(f"k must be an integer from 1 to {MAX_K}, not {k!r}")
        key = ("k", source, destination, size_bytes, excl, k)
        hit, result = self._cache_get(key, now_s)
        if hit:
            return list(result)  # type: ignore[call-overload]
        found = self._yen(source, destination, now_s, size_bytes, excl, k)
        self._cache_put(key, now_s, found, len(found) < k, tuple(found))
        return found

    def _yen(self, source, destination, now_s, size_bytes, excl, k) -> list[Route]:
        if destination in excl:
            return []
        first = self._search(source, destination, now_s, size_bytes, excl)
        if first is None:
            return []
        accepted = [self._labels_to_route(first, size_bytes)]
        accepted_ids = [tuple(self._id_of[c] for c in accepted[0].contacts)]
        seen = {accepted_ids[0]}
        candidates: list[tuple[float, int, int, tuple[int, ...], Route, int]] = []
        seq = 0
        deviation = 0
        while len(accepted) < k:
            prev = accepted[-1]
            prev_ids = accepted_ids[-1]
            nodes = prev.nodes
            # Spurs from a candidate that cannot make the list are useless: bound them by the arrival of the
            # candidate that would be taken last.
            need = k - len(accepted)
            # Lawler's refinement: spurs before the node where `prev` left its parent were tried already.
            for i in range(deviation, len(prev_ids)):
                root = prev_ids[:i]
                limit = INF
                if len(candidates) >= need:
                    limit = heapq.nsmallest(need, candidates)[-1][0]
                banned = {ids[i] for ids in accepted_ids if len(ids) > i and ids[:i] == root}
                blocked = excl | frozenset(nodes[:i])
                t_spur = now_s if i == 0 else prev.arrivals_s[i - 1]
                entry = self._search(
                    nodes[i],
                    destination,
                    t_spur,
                    size_bytes,
                    blocked,
                    banned or None,
                    use_queue=(i == 0),
                    limit_s=limit,
                )
                if entry is None:
                    continue
                spur_ids: list[int] = []
                spur_dep: list[float] = []
                spur_arr: list[float] = []
                while entry is not None and entry[4] >= 0:
                    spur_ids.append(entry[4])
                    spur_dep.append(entry[5])
                    spur_arr.append(entry[0])
                    entry = entry[6]
                ids = root + tuple(reversed(spur_ids))
                if ids in seen:
                    continue
                seen.add(ids)
                route = self._make_route(
                    list(ids),
                    list(prev.departures_s[:i]) + spur_dep[::-1],
                    list(prev.arrivals_s[:i]) + spur_arr[::-1],
                    size_bytes,
                )
                heapq.heappush(candidates, (route.arrival_s, route.hop_count, seq, ids, route, i))
                seq += 1
            if not candidates:
                break
            _, _, _, ids, route, deviation = heapq.heappop(candidates)
            accepted.append(route)
            accepted_ids.append(ids)
        return accepted

    def decide(
        self,
        source: int,
        destination: int,
        now_s: float,
        size_bytes: float,
        *,
        excluded: Iterable[int] = frozenset(),
        critical: bool = False,
        deadline_s: float | None = None,
    ) -> list[Route]:
        """The forwarding decision for one bundle (SABR §3.2.8): the best route (a list of one), or for a
        critical bundle the best route through each distinct first hop, sorted by (arrival, hops, next hop).
        Routes arriving after `deadline_s` (e.g. the bundle's expiry) are dropped; an empty list means no
        route. Nothing is booked: call `book` for each route the bundle is queued on."""
        now_s, size_bytes, excl = self._check_request(source, destination, now_s, size_bytes, excluded)
        if deadline_s is not None:
            deadline_s = self._check_time(deadline_s, "deadline_s")
        if not critical:
            best = self.best_route(source, destination, now_s, size_bytes, excluded=excl)
            found = [best] if best is not None else []
        else:
            found = []
            sender = self._senders[self._index[source]]
            numbers = {i: n for n, i in self._index.items()}
            hops = sorted({numbers[it[5]] for it in sender.items if it[1] >= now_s})
            for hop in hops:
                if hop in excl:
                    continue
                key = ("hop", source, destination, size_bytes, excl, hop)
                hit, route = self._cache_get(key, now_s)
                if not hit:
                    route = self._best(source, destination, now_s, size_bytes, excl, first_hop=hop)
                    self._cache_put(key, now_s, [route] if route else [], route is None, route)  # type: ignore[list-item]
                if route is not None:
                    found.append(route)
            found.sort(key=lambda r: (r.arrival_s, r.hop_count, r.next_hop))  # type: ignore[union-attr]
        if deadline_s is not None:
            found = [r for r in found if r.arrival_s <= deadline_s]  # type: ignore[union-attr]
        return found  # type: ignore[return-value]
