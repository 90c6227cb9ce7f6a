"""dtn/tcpcl"""
