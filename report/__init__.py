"""The read path: the weekly status page and the terminal report.

Reads only the marts (`reporting`, `reporting_private`); never the raw schema.
"""
