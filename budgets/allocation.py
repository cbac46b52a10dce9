"""Sharing an amount of pence between partners exactly: the largest-remainder method.

Pure functions (no database), so the property tests can try any amounts and weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K")


def largest_remainder(amount: int, weights: Mapping[K, int]) -> dict[K, int]:
    """Split ``amount`` pence in proportion to ``weights`` (whole numbers, at least one above
    zero) so that the shares add up to ``amount`` exactly: each share is first rounded down, and
    the pence left over go one each to the largest fractional remainders (ties to the earlier
    key, in the mapping's order). Negative amounts are split as their size, then negated."""
    if amount < 0:
        return {k: -v for k, v in largest_remainder(-amount, weights).items()}
    total = sum(weights.values())
    if total <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("weights must be whole numbers, not negative, adding up to more than 0")
    shares = {k: amount * w // total for k, w in weights.items()}
    left = amount - sum(shares.values())
    order = sorted(
        enumerate(weights.items()), key=lambda item: (-(amount * item[1][1] % total), item[0])
    )
    for _, (k, _w) in order[:left]:
        shares[k] += 1
    return shares


@dataclass(frozen=True)
class Step:
    """One risk-share rule reduced to numbers: the weights it shares by and its cap."""

    weights: Mapping[int, int]  # partner id -> weight (contribution, basis points, or host 1)
    cap_pence: int | None


def apply_steps(amount: int, steps: Sequence[Step]) -> dict[int, int]:
    """Share ``amount`` (the size of an over- or underspend, in pence) by the steps in order:
    each takes up to its cap and shares that part by its weights. The shares add up to
    ``amount`` exactly; a remainder no step may take is an error (the last step must be
    uncapped, which fund setup checks)."""
    if amount < 0:
        raise ValueError("share the size of a variance, not a signed amount")
    result: dict[int, int] = {}
    remaining = amount
    for step in steps:
        if remaining == 0:
            break
        take = remaining if step.cap_pence is None else min(remaining, step.cap_pence)
        for partner, share in largest_remainder(take, step.weights).items():
            result[partner] = result.get(partner, 0) + share
        remaining -= take
    if remaining:
        raise ValueError(f"{remaining} pence are left over: the last rule must have no cap")
    return result
