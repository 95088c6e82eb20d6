"""The clock, working days with 调休, and the deadline phrases plans write (12月底前, 1月上旬 …).

Imports nothing of engine.
"""
