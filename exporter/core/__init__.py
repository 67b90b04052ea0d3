"""The pure core: report bytes to typed records, records + config + ``now`` to findings.

Standard library and ``exporter.core`` only: no I/O, no clock, no YAML, no AWS SDK.
"""
