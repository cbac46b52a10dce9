"""Every change to who may see what, in four modules, named here so callers need one import:

- ``projection``: bases projected onto case-file permission rows (``apply_projection``);
- ``recording``: recording, withdrawing and ending bases;
- ``break_glass``: emergency access and its review;
- ``sweeps``: the periodic expiry and the drift check.
"""

from __future__ import annotations

from caretrust.sharing.break_glass import (
    BREAK_GLASS_ROLES,
    MIN_REASON_LENGTH,
    break_glass,
    review_break_glass,
)
from caretrust.sharing.models import lapse_at
from caretrust.sharing.projection import (
    GroupRow,
    ProjectionChange,
    UserRow,
    apply_projection,
    basis_ends_at,
    desired_rows,
)
from caretrust.sharing.recording import (
    RECORDING_ROLES,
    change_status,
    record_best_interests,
    record_consent,
    record_legal_duty,
    record_refusal,
    withdraw_basis,
)
from caretrust.sharing.sweeps import DriftReport, expire_lapsed_bases, recompute_all

__all__ = [
    "BREAK_GLASS_ROLES",
    "MIN_REASON_LENGTH",
    "RECORDING_ROLES",
    "DriftReport",
    "GroupRow",
    "ProjectionChange",
    "UserRow",
    "apply_projection",
    "basis_ends_at",
    "break_glass",
    "change_status",
    "desired_rows",
    "expire_lapsed_bases",
    "lapse_at",
    "recompute_all",
    "record_best_interests",
    "record_consent",
    "record_legal_duty",
    "record_refusal",
    "review_break_glass",
    "withdraw_basis",
]
