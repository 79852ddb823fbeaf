"""Form-fault codes (SPEC section 1): the only codes a rep, a set or an alert may carry.

A closed set, checked when a message is decoded: a fault code becomes an InfluxDB tag and a
field name (`faults_<code>`), so free text there could write anything into anyone's data.
"""

from __future__ import annotations

from typing import Literal, get_args

FaultCode = Literal[
    "partial_lockout",
    "overextension",
    "no_lockout_hold",
    "momentum",
    "hip_shoot",
    "bar_tilt",
    "load_asymmetry",
    "bar_drift",
    "fast_eccentric",
    "velocity_loss",
    "grinding",
]

FAULT_CODES: tuple[str, ...] = get_args(FaultCode)
