"""DTN time, RFC 9171 §4.2.6: milliseconds since 2000-01-01T00:00:00Z (the DTN epoch).

Convert only at the codec edge: everything above the codec keeps Unix seconds or a `Clock`.
"""

from __future__ import annotations

DTN_EPOCH_UNIX_S = 946684800
"""2000-01-01T00:00:00Z as a Unix timestamp in seconds."""


def unix_to_dtn_ms(unix_s: float) -> int:
    """Unix time in seconds -> DTN time in whole milliseconds (rounded to nearest).

    >>> unix_to_dtn_ms(946684800.5)
    500
    """
    return int(round((unix_s - DTN_EPOCH_UNIX_S) * 1000))


def dtn_ms_to_unix(dtn_ms: int) -> float:
    """DTN time in milliseconds -> Unix time in seconds.

    >>> dtn_ms_to_unix(500)
    946684800.5
    """
    return DTN_EPOCH_UNIX_S + dtn_ms / 1000.0
