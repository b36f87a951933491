"""The submissions folder: its naming rules (layout), grader collect's record of it
(collected.csv) and the roster.
"""
