"""Compute next to the data (pure): job messages, the `[compute]` config table, cost models and placement.

A node that offers functions runs the compute service at `ipn:N.65` (`COMPUTE_SERVICE`); jobs and their results
travel as bundles (`dtn.compute.messages`). The node-side service is `dtn.node.compute`; docs/compute.md.
"""

from dtn.compute.config import ComputeConfig, parse_compute_table
from dtn.compute.messages import (
    COMPUTE_SERVICE,
    JobReply,
    JobRequest,
    decode_message,
    encode_message,
)
from dtn.compute.placement import CostModel, Offer, Prediction, choose_placement, predict

__all__ = [
    "COMPUTE_SERVICE",
    "ComputeConfig",
    "CostModel",
    "JobReply",
    "JobRequest",
    "Offer",
    "Prediction",
    "choose_placement",
    "decode_message",
    "encode_message",
    "parse_compute_table",
    "predict",
]
