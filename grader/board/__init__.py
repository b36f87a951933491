"""What grader score writes: the public board (files, page, terminal) and the TA's review
folder.
"""
