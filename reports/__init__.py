"""reports: the run's stored results -> matplotlib figures -> one self-contained HTML page."""

from reports.build import build_report

__all__ = ["build_report"]
