"""The long-running exporter behind ``serve``.

``app.Daemon`` wires ``refresh.Refresher`` (fetch + evaluate every account, build
an immutable ``snapshot.Snapshot`` with its exposition pre-rendered by
``exposition``), ``scheduler`` (APScheduler interval job) and ``http`` (the
threading HTTP server whose handlers only read the current snapshot).
"""
