"""`python -m fixtures_sysfs build`: regenerate the committed hand-made trees."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from fixtures_sysfs.builder import build
from fixtures_sysfs.hosts import demo_host

HERE = Path(__file__).parent
BUILT = {"demo-host": demo_host}


def main(argv: list[str]) -> int:
    """Rebuild every committed hand-made tree."""
    if argv != ["build"]:
        sys.stderr.write("usage: python -m fixtures_sysfs build\n")
        return 2
    for name, make in BUILT.items():
        target = HERE / name
        shutil.rmtree(target, ignore_errors=True)
        build(make(), target)
        print(f"built {target}")
    return 0


raise SystemExit(main(sys.argv[1:]))
