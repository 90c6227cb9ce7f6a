"""Example Earth-observation functions for the compute service (pure, numpy only).

A compute function is `fn(inputs: list[bytes], params: dict) -> bytes`. These take products stored as NumPy
`.npy` files (arrays of shape (bands, rows, cols), or (rows, cols) for one band; pickles are refused).

    [compute.functions]
    band_stats = "dtn.compute.examples:band_stats"
    thumbnail = "dtn.compute.examples:thumbnail"
"""

from __future__ import annotations

import io
from typing import Any

import cbor2
import numpy as np

from dtn.errors import DecodeError


def load_product(data: bytes) -> np.ndarray:
    """A product's array, shape (bands, rows, cols); DecodeError when it is not a numeric .npy array."""
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # numpy raises several types on malformed files
        raise DecodeError(f"not a .npy product: {exc}", offset=0) from None
    if arr.dtype.kind not in "iuf" or arr.ndim not in (2, 3) or arr.size == 0:
        raise DecodeError(
            f"expected a non-empty numeric array of 2 or 3 dimensions, got {arr.dtype} {arr.shape}", offset=0
        )
    return arr[np.newaxis] if arr.ndim == 2 else arr


def dump_product(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def band_stats(inputs: list[bytes], params: dict[str, Any]) -> bytes:
    """Per-band statistics of each input product: CBOR list (one per input) of lists (one per band) of maps
    {min, max, mean, std, count}. NaNs are ignored."""
    out = []
    for data in inputs:
        arr = load_product(data).astype(np.float64)
        bands = []
        for band in arr:
            valid = band[np.isfinite(band)]
            if valid.size == 0:
                bands.append({"count": 0})
                continue
            bands.append(
                {
                    "min": float(valid.min()),
                    "max": float(valid.max()),
                    "mean": float(valid.mean()),
                    "std": float(valid.std()),
                    "count": int(valid.size),
                }
            )
        out.append(bands)
    return cbor2.dumps(out)


def thumbnail(inputs: list[bytes], params: dict[str, Any]) -> bytes:
    """A block-averaged thumbnail (`.npy`, float32) of the first input, `factor` (params, default 8) times
    smaller on each axis."""
    if not inputs:
        raise ValueError("thumbnail needs one input product")
    factor = params.get("factor", 8)
    if isinstance(factor, bool) or not isinstance(factor, int) or not 1 <= factor <= 4096:
        raise ValueError("factor must be an integer in 1..4096")
    arr = load_product(inputs[0]).astype(np.float32)
    b, r, c = arr.shape
    r2, c2 = max(1, r // factor), max(1, c // factor)
    fr, fc = min(factor, r), min(factor, c)
    cropped = arr[:, : r2 * fr, : c2 * fc]
    return dump_product(cropped.reshape(b, r2, fr, c2, fc).mean(axis=(2, 4)))
