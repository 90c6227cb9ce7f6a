"""dtn/store"""
