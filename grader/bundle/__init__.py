"""The competition bundle: building it (prepare, sources), reading it (files, answers) and
the submission validator.
"""
