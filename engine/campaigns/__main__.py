"""`python -m engine.campaigns [--parts sender,receipts,housekeeping] [--consumer NAME]`: the delivery worker."""

import argparse
import logging

from engine.campaigns.worker import PARTS, run_worker

parser = argparse.ArgumentParser(prog="python -m engine.campaigns", description="Run the delivery worker.")
parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
parser.add_argument("--consumer", default=None, help="consumer name in the stream groups (default: host and pid)")
arguments = parser.parse_args()
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
run_worker([part.strip() for part in arguments.parts.split(",") if part.strip()], arguments.consumer)
