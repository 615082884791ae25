"""A/B tests of offers: who sees which variant, and whether a difference is real.

Framework-free arithmetic the adapters build on:

- :func:`assign` puts a visitor (a member id, or an anonymous visitor's random id) into one
  of a test's variants by a hash: the same visitor always gets the same variant, on every
  server and device, with no state stored; the split follows the variants' weights.
- :func:`wilson_interval` is the 95 % (or any) confidence interval of a conversion rate,
  the Wilson score interval, which stays inside [0, 1] and behaves for small counts and
  rates near 0, unlike the normal approximation.
- :func:`two_proportion_z_test` compares two variants' rates (pooled two-proportion
  z-test, two-sided p-value).
- :func:`compare` does both for every variant against the first one (the control).

See ``docs/experiments.md`` for the statistics and their caveats (peeking).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from .errors import MembershipError

__all__ = [
    "ExperimentError",
    "VariantResult",
    "ZTest",
    "assign",
    "compare",
    "two_proportion_z_test",
    "wilson_interval",
]

_NORMAL = NormalDist()


class ExperimentError(MembershipError, ValueError):
    """An experiment's figures or set-up cannot be used (negative counts, no variants)."""


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0:
        raise ExperimentError(
            f"counts must be >= 0, got successes={successes!r}, trials={trials!r}"
        )
    if successes > trials:
        raise ExperimentError(f"successes ({successes!r}) cannot exceed trials ({trials!r})")


def _z_for(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ExperimentError(f"confidence must be between 0 and 1, got {confidence!r}")
    return _NORMAL.inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / trials`` at ``confidence``.

    ``(0.0, 1.0)`` when there are no trials: nothing is known yet.

    :raises ExperimentError: negative counts, more successes than trials, or a
        confidence outside (0, 1).
    """
    _check_counts(successes, trials)
    z = _z_for(confidence)
    if trials == 0:
        return (0.0, 1.0)
    n = trials
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = (z / (1 + z2 / n)) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True, slots=True)
class ZTest:
    """The outcome of :func:`two_proportion_z_test`.

    :ivar z: the test statistic (positive when the second rate is higher).
    :ivar p_value: the two-sided p-value; ``1.0`` when nothing can be compared.
    """

    z: float
    p_value: float

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether the difference is significant at level ``alpha``."""
        return self.p_value < alpha


def two_proportion_z_test(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> ZTest:
    """Whether rate B differs from rate A: the pooled two-proportion z-test, two-sided.

    With no trials on a side, or no variance at all (both 0 % or both 100 %), nothing can
    be told apart: ``ZTest(0.0, 1.0)``.

    :raises ExperimentError: negative counts or more successes than trials.
    """
    _check_counts(successes_a, trials_a)
    _check_counts(successes_b, trials_b)
    if trials_a == 0 or trials_b == 0:
        return ZTest(0.0, 1.0)
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    if se == 0:
        return ZTest(0.0, 1.0)
    z = (successes_b / trials_b - successes_a / trials_a) / se
    return ZTest(z, math.erfc(abs(z) / math.sqrt(2)))


def assign(unit: str, test: str, weights: Sequence[int]) -> int:
    """The index of the variant ``unit`` (a visitor) sees in ``test``, by ``weights``.

    A hash of the test and the visitor, so the answer is stable everywhere without
    storing it, independent between tests, and spread as the weights say (a weight of 0
    gets no one).

    :raises ExperimentError: no variants, a negative weight or all weights 0.
    """
    if not weights:
        raise ExperimentError(f"test {test!r} has no variants to assign")
    if any(w < 0 for w in weights):
        raise ExperimentError(f"test {test!r}: weights must be >= 0, got {list(weights)!r}")
    total = sum(weights)
    if total == 0:
        raise ExperimentError(f"test {test!r}: every variant has weight 0")
    digest = hashlib.sha256(f"{test}\x00{unit}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    raise AssertionError("unreachable: point < total")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class VariantResult:
    """One variant's conversion, its interval and, against the control, its test.

    :ivar exposures: visitors shown the variant.
    :ivar conversions: those of them whose checkout completed.
    :ivar low: lower bound of the rate's confidence interval.
    :ivar high: upper bound.
    :ivar versus_control: the z-test against the first variant (``None`` for it).
    """

    exposures: int
    conversions: int
    low: float
    high: float
    versus_control: ZTest | None

    @property
    def rate(self) -> float | None:
        """Conversions per exposure, ``None`` before anyone was exposed."""
        return self.conversions / self.exposures if self.exposures else None


def compare(counts: Sequence[tuple[int, int]], confidence: float = 0.95) -> list[VariantResult]:
    """Each variant's ``(exposures, conversions)`` with its interval and, after the first
    (the control), its z-test against the control.

    Conversions above exposures (a member converted before their exposure was counted)
    are capped at the exposures, so the figures stay a proportion.

    :raises ExperimentError: negative counts.
    """
    results: list[VariantResult] = []
    control: tuple[int, int] | None = None
    for exposures, conversions in counts:
        conversions = min(conversions, exposures) if conversions >= 0 else conversions
        low, high = wilson_interval(conversions, exposures, confidence)
        test = None
        if control is not None:
            test = two_proportion_z_test(control[1], control[0], conversions, exposures)
        else:
            control = (exposures, conversions)
        results.append(VariantResult(exposures, conversions, low, high, test))
    return results
