"""Physical constants the analysis shares."""

from __future__ import annotations

import math

G = 9.80665  # m/s², standard gravity
DEG_PER_RAD = 180.0 / math.pi
