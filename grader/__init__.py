"""The TA's side of the CIFAR-10 competition kit.

`grader prepare` builds the competition bundle; later subcommands validate and
score submissions. This package never imports torch: it must start fast and
install light (docs/architecture.md).
"""

__version__ = "0.1.0"
