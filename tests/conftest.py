"""Test-suite settings shared by every package.

Property tests (hypothesis) run derandomized by default: the same examples on every run, so a
clean-clone CI run cannot fail by the luck of the draw. ``HYPOTHESIS_PROFILE=explore`` draws fresh
random examples (and more of them) to look for new failures locally.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
