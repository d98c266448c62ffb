"""Cold start: seconds from process start to ``/readyz`` answering 200, on the embedded default store
with a fresh file (first start: migrations and fixtures included), and resident memory then.

Target (issue 2): <= 1.5 s and <= 150 MB. Prints one line per run and the median.
Run: ``.venv/bin/python bench/startup.py [runs]``.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
from _harness import free_port

ROOT = Path(__file__).resolve().parent.parent


def one_run() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        port, smtp_port = free_port(), free_port()
        env = {**os.environ, "SEGUR_DATABASE_URL": f"sqlite:///{tmp}/fresh.db", "SEGUR_LOG_LEVEL": "WARNING",
               "SEGUR_HTTP_PORT": str(port), "SEGUR_SMTP_PORT": str(smtp_port),
               "SEGUR_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            deadline = started + 30
            while time.perf_counter() < deadline:
                if process.poll() is not None:
                    raise SystemExit(f"sandbox exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:  # noqa: S310
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                time.sleep(0.01)
            else:
                raise SystemExit("sandbox not ready within 30 s")
            elapsed = time.perf_counter() - started
            proc = psutil.Process(process.pid)
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            return elapsed, rss / 1024 / 1024
        finally:
            process.terminate()
            process.wait(timeout=10)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"startup bench: {runs} cold starts on a fresh SQLite file; python {platform.python_version()}, "
          f"{os.cpu_count()} cores, {platform.machine()}")
    results = []
    for index in range(runs):
        seconds, megabytes = one_run()
        results.append((seconds, megabytes))
        print(f"  run {index + 1}: ready in {seconds:.3f} s, RSS {megabytes:.0f} MB")
    print(f"median: ready in {statistics.median(r[0] for r in results):.3f} s, "
          f"RSS {statistics.median(r[1] for r in results):.0f} MB (targets: <= 1.5 s, <= 150 MB)")


if __name__ == "__main__":
    main()
