"""`make bench`: every benchmark table (allocation core, then the simulated venues over FIX)."""

import sys

from bench import allocation, venues


def main() -> int:
    allocation.run(print)
    print("\n== simulated venues over FIX ==")
    venues.run(print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
