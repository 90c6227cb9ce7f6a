"""dtn/bpv7/time.py: DTN time (RFC 9171 §4.2.6)."""

from dtn.bpv7.time import DTN_EPOCH_UNIX_S, dtn_ms_to_unix, unix_to_dtn_ms


def test_epoch_and_round_trip():
    assert DTN_EPOCH_UNIX_S == 946684800
    assert unix_to_dtn_ms(DTN_EPOCH_UNIX_S) == 0
    assert unix_to_dtn_ms(1_700_000_000.25) == (1_700_000_000 - DTN_EPOCH_UNIX_S) * 1000 + 250
    assert dtn_ms_to_unix(unix_to_dtn_ms(1_700_000_000.5)) == 1_700_000_000.5
