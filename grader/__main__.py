"""Allow `python -m grader ...` as well as the `grader` console script."""

from grader.cli import main

raise SystemExit(main())
