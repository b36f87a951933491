"""Where a graded file came from: students' Kaggle notebooks, pulled and compared.

`grader notebooks pull` (pull) fetches each shared notebook and its run's output;
`grader score --notebooks` (check) says, per participant, whether the graded file is
one the notebook's run wrote, and reads the code for sources of test labels (notes).
"""
