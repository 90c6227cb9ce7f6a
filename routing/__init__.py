"""Contact graph routing (CCSDS 734.3-B-1, SABR) over `contact_plans.model.ContactPlan`.

Pure: no I/O, no clock, no trio. `Router` answers "which route, and when" for a bundle; `Route` is the answer.
See docs/routing.md for the delivery-time model and the tie-breaks.
"""

from .cgr import CACHE_ENTRIES, MAX_K, Router
from .route import Route, latest_first_start_s, transmission_times

__all__ = ["Router", "Route", "MAX_K", "CACHE_ENTRIES", "transmission_times", "latest_first_start_s"]
