"""routing/testing"""
