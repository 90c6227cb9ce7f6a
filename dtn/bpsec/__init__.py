"""dtn/bpsec"""
