"""Key files for BPSec.

A key file holds one symmetric key, in either form:

* hex text (recommended): the key's bytes as hex digits; whitespace, line breaks, one leading ``0x`` and
  ``#`` comments to the end of a line are ignored, e.g. ``1a2b1a2b1a2b1a2b1a2b1a2b1a2b1a2b``;
* raw bytes: a binary file of exactly 16, 24, 32, 48 or 64 bytes. A file made only of printable ASCII is
  always read as hex text (so a typo in a hex key is an error, not a different key).

Key material never appears in errors or logs: they name the file (or the key id), never the bytes.
"""

from __future__ import annotations

import pathlib
import re
import string

from dtn.errors import ConfigError

RAW_KEY_SIZES_BYTES = (16, 24, 32, 48, 64)
MAX_KEY_FILE_BYTES = 4096
_COMMENT = re.compile(rb"#[^\n]*")
_HEX = set(string.hexdigits.encode())
_TEXT = set(string.printable.encode())


def parse_key(content: bytes, *, name: str = "key") -> bytes:
    """Key bytes from the content of a key file (hex text or raw bytes); `ConfigError` naming `name` if neither."""
    if all(c in _TEXT for c in content):
        # Text must be hex: a typo must not silently turn a hex key into a "raw" key of its characters.
        compact = b"".join(_COMMENT.sub(b"", content).split())
        if compact[:2].lower() == b"0x":
            compact = compact[2:]
        if not compact or not all(c in _HEX for c in compact):
            raise ConfigError("key file is text but not hex digits", key=name)
        if len(compact) % 2:
            raise ConfigError("hex key has an odd number of digits", key=name)
        key = bytes.fromhex(compact.decode("ascii"))
    elif len(content) in RAW_KEY_SIZES_BYTES:
        key = bytes(content)
    else:
        raise ConfigError(
            f"not a key: expected hex text or exactly 16, 24, 32, 48 or 64 raw bytes, got {len(content)} bytes",
            key=name,
        )
    if len(key) < 16:
        raise ConfigError(f"key of {len(key)} bytes is too short (at least 16)", key=name)
    return key


def load_key_file(path: str | pathlib.Path) -> bytes:
    """Read one key from a key file (see the module docstring); `ConfigError` naming the file on any problem."""
    path = pathlib.Path(path)
    try:
        with path.open("rb") as handle:
            content = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read key file: {exc.strerror or exc}", key=str(path)) from None
    if len(content) > MAX_KEY_FILE_BYTES:
        raise ConfigError(f"key file larger than {MAX_KEY_FILE_BYTES} bytes", key=str(path))
    return parse_key(content, name=str(path))
