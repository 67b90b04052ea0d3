"""``serve``: the long-running exporter. (Being built: issue 3.)"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the findings to Prometheus")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    raise ValueError("serve is not implemented yet")
