"""grader score: the pipeline that reads, scores, ranks and writes, and the scoring of one
file.
"""
