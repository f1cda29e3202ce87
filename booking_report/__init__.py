"""Command line, configuration, embedded database, dbt runner and the demo scenario."""

__version__ = "0.1.0"
