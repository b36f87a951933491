"""Numbers behind the board: metrics, intervals and paired tests, integrity flags, the
lookup detector.
"""
