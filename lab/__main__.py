"""Command line: `python -m lab {install,list,capture}`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from lab.capture import FIXTURES, capture_many, prepare
from lab.install import LabUnavailableError
from lab.topologies import TOPOLOGIES


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="install QEMU 10, guest kernel, busybox; build initramfs")
    commands.add_parser("list", help="list topology names")
    cap = commands.add_parser("capture", help="boot topologies and write fixtures_sysfs/<name>/")
    cap.add_argument("names", nargs="*", metavar="NAME", help=", ".join(TOPOLOGIES))
    cap.add_argument("--all", action="store_true", help="capture every topology")
    cap.add_argument("--out", type=Path, default=FIXTURES, help="output root (default: %(default)s)")
    cap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="guests at once")
    args = parser.parse_args(argv)
    if args.command == "list":
        for topology in TOPOLOGIES.values():
            print(f"{topology.name}\t{topology.description}")
        return 0
    try:
        env = prepare()
    except LabUnavailableError as error:
        print(f"lab unavailable: {error}", file=sys.stderr)
        return 2
    if args.command == "install":
        print(f"ready: kernel {env.kernel.version}, initramfs {env.initrd}")
        return 0
    names = list(TOPOLOGIES) if args.all else args.names
    if not names or set(names) - set(TOPOLOGIES):
        parser.error(f"capture needs --all or names from: {', '.join(TOPOLOGIES)}")
    started = time.monotonic()
    errors = capture_many([TOPOLOGIES[n] for n in names], env, args.out, args.jobs)
    print(f"{len(names) - len(errors)}/{len(names)} captured in {time.monotonic() - started:.0f} s", file=sys.stderr)
    for message in errors:
        print(message, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
