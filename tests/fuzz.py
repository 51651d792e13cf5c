"""`python -m tests.fuzz [N]`: the property and parser tests at scale (N examples each; default 2000)."""

from __future__ import annotations

import os
import sys

import pytest


def main(argv: list[str]) -> int:
    """Run the fuzzing tests with N examples per property."""
    os.environ["PCIE_FAILOVER_PROPERTY_EXAMPLES"] = argv[0] if argv else "2000"
    return pytest.main(["-q", "-p", "no:cacheprovider", "tests/test_properties.py", "tests/test_parsers_fuzz.py"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
