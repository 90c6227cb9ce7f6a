"""dtn/bpv7"""
