"""Inputs tools/fuzz.py found that once ended in an unexpected exception (docs/security.md lists them)."""

from __future__ import annotations

import pytest

from dtn.bpv7 import decode
from dtn.errors import DecodeError

CRASHES = [
    # cbor2 decodes a self-referencing tag (28/29, shared values) whose hash raises RuntimeError; the EID
    # cache hashed it.
    "9f88071a00020000008202db020182028201018222820100821b03ff8582028201018222820100821b03ff85007f82028201018222820100821b03ff85007f007f",
]


@pytest.mark.parametrize("hex_input", CRASHES)
def test_decode_gives_a_typed_error(hex_input):
    with pytest.raises(DecodeError):
        decode(bytes.fromhex(hex_input))
