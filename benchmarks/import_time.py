"""How long `import agnes_jupyter` takes in a fresh interpreter.

Target: < 0.5 s. Baseline, measured in the same run: a bare interpreter start and, for
scale, `import pandas` (what the library must not pull in at import time).
Prints medians of N fresh processes.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

N = 15
TARGET_S = 0.5


def median_seconds(code: str) -> float:
    samples = []
    for _ in range(N):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    bare = median_seconds("pass")
    agnes = median_seconds("import agnes_jupyter")
    pandas = median_seconds("import pandas")
    print(f"interpreter start (baseline)   {bare * 1000:7.1f} ms")
    print(f"import agnes_jupyter           {agnes * 1000:7.1f} ms  -> {(agnes - bare) * 1000:6.1f} ms over baseline "
          f"(target < {TARGET_S * 1000:.0f} ms)  {'OK' if agnes - bare < TARGET_S else 'MISSED'}")
    print(f"import pandas (for scale)      {pandas * 1000:7.1f} ms  -> {(pandas - bare) * 1000:6.1f} ms over baseline")


if __name__ == "__main__":
    main()
