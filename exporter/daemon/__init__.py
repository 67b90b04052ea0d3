"""The long-running exporter behind ``serve``; the only user of prometheus_client
and APScheduler.

``compose.build_daemon`` turns a ``Config`` into an ``app.Daemon``, which wires
``refresh.Refresher`` (each account read, evaluated and swapped into the account
table on its own, within a deadline), ``publisher`` (the immutable
``snapshot.Snapshot``, its exposition pre-rendered by ``exposition``),
``scheduler`` (APScheduler interval job) and ``http`` (the threading HTTP server
whose handlers only read the current snapshot).
"""
