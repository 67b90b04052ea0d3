"""The command line: argument parsing and output only; the work is done elsewhere."""

from exporter.cli.main import main

__all__ = ["main"]
