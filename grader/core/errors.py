"""Typed errors raised by the grader library; the CLI turns them into exit codes."""


class GraderError(Exception):
    """A problem with the user's input, explained in one or two sentences.

    `exit_code` follows docs/architecture.md ("Exit codes"): 1 when the input was judged bad,
    2 for a usage error (a flag or path the user must change).
    """

    exit_code = 1


class UsageError(GraderError):
    """A flag value or output path that cannot work as given."""

    exit_code = 2


class SourceError(GraderError):
    """A CIFAR-10 source that cannot be read: names the file and what is wrong."""


class BundleError(GraderError):
    """A competition bundle file that is missing or malformed: names the file."""
