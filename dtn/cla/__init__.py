"""dtn/cla"""
