"""Build reports: report.md / report.json and matplotlib plots."""
