"""Key files for BPSec.

A key file holds one symmetric key, in either form:

* hex text (recommended): the key's bytes as hex digits; whitespace, line breaks, one leading ``0x`` and
  ``#`` comments to the end of a line are ignored, e.g. ``1a2b1a2b1a2b1a2b1a2b1a2b1a2b1a2b``;
* raw bytes: a file of exactly 16, 24, 32, 48 or 64 bytes that is not hex text (RFC 9173's example keys, such
  as ``qwertyuiopasdfgh``, are printable raw keys). A file that reads as hex text is always taken as hex, so prefer
  the hex form: it is unambiguous and survives copy and paste.

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


def parse_key(content: bytes, *, name: str = "key") -> bytes:
    """Key bytes from the content of a key file (hex text or raw bytes); `ConfigError` naming `name` if neither."""
    compact = b"".join(_COMMENT.sub(b"", content).split())
    if compact[:2].lower() == b"0x":
        compact = compact[2:]
    if compact and all(c in _HEX for c in compact):
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
