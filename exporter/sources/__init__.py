"""Where credential reports come from: files, the demo, and AWS (``sources.aws``)."""
