"""The course baseline: fixed-seed ResNet50 training with Hugging Face Accelerate.

`python -m baseline.train` (train.py) runs it; lesson.py is the code that decides the
numbers, which the Kaggle notebooks show; the engine reads the competition bundle
through `grader.bundle.files.load_bundle` (the baseline may import the grader, never the
reverse).
"""
