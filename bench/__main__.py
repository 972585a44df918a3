"""`make bench`: every benchmark table (allocation core, the simulated venues over FIX, the engine)."""

import sys

from bench import allocation, engine, venues


def main() -> int:
    allocation.run(print)
    print("\n== simulated venues over FIX ==")
    venues.run(print)
    print("\n== engine sweeps over FIX ==")
    engine.run(print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
