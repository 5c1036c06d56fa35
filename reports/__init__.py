"""reports: the run's stored results -> one self-contained HTML page (the registered job
kinds' sections, the audit card, the timings) and the card as markdown or JSON."""

from reports.build import build_report

__all__ = ["build_report"]
