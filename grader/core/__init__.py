"""Shared foundations: defaults, typed errors, the identity rule for names, safe text,
atomic file writes, progress bars.
"""
