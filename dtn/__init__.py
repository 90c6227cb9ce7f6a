"""spacedtn: a delay-tolerant networking stack for space networks (BPv7, TCPCLv4, CGR, BPSec)."""

__version__ = "0.1.0"
