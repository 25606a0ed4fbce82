"""Issue 17's connector benchmarks in one run: Keboola (benchmarks/connectors_keboola.py) then
Jira and its webhooks (benchmarks/connectors_jira.py). Each prints its figures next to their
targets and a baseline measured in the same run; see their docstrings for what is compared.

    python benchmarks/connectors.py [--only keboola|jira]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {"keboola": HERE / "connectors_keboola.py", "jira": HERE / "connectors_jira.py"}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=sorted(PARTS))
    args = parser.parse_args()
    failed = 0
    for name, script in PARTS.items():
        if args.only and name != args.only:
            continue
        print(f"== {name} ({script.name})", flush=True)
        failed |= subprocess.run([sys.executable, str(script)], check=False).returncode
    return failed


if __name__ == "__main__":
    sys.exit(main())
