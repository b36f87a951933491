"""The course baseline: fixed-seed ResNet50 training with Hugging Face Accelerate.

Training arrives with issue 4; it reads the competition bundle through
`grader.bundle.load_bundle` (the baseline may import the grader, never the reverse).
"""
