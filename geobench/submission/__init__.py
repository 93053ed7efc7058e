"""Submissions: package results for a pull request (``geobench.submit``) and check them
(``geobench.validate``). The formats are described in :mod:`geobench.submission.schema`."""

from geobench.submission.report import Problem, Report
from geobench.submission.validator import validate_path

__all__ = ["Problem", "Report", "validate_path"]
