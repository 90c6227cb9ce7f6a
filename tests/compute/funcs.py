"""Compute functions used only by the tests (limits, restarts)."""

import time


def burn_cpu(inputs, params):
    x = 0
    while True:
        x += 1


def grab_memory(inputs, params):
    block = bytearray(int(params.get("mib", 4096)) * 1024 * 1024)
    return bytes(block[:1])


def big_output(inputs, params):
    return bytes(int(params.get("bytes", 1024)))


def sleep_then_echo(inputs, params):
    time.sleep(float(params.get("seconds", 1.0)))
    return inputs[0] if inputs else b""


def fail(inputs, params):
    raise ValueError("this function always fails")
