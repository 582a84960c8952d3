"""The benchmarks run: `bench/run_all.py --quick --json` in a subprocess gives numeric rows from every bench module.

No timing is asserted here (CI machines are noisy); the goals are judged from a full run (docs/PERFORMANCE.md).
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROW_KEYS = {"bench", "figure", "value", "unit", "floor", "ratio", "goal", "pass"}


@pytest.mark.timeout(120)
def test_every_bench_module_produces_numeric_rows() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout)
    modules = {path.stem for path in (ROOT / "bench").glob("*_bench.py")}
    assert {row["bench"] for row in rows} == modules
    for row in rows:
        assert set(row) == ROW_KEYS, row
        assert isinstance(row["value"], int | float), row
        assert not isinstance(row["value"], bool), row
        assert math.isfinite(row["value"]), row
        assert row["pass"] in (True, False, None), row
