"""grader collect: reading LMS exports (exports), each LMS's naming (lms) and copying into
the submissions folder (run).
"""
