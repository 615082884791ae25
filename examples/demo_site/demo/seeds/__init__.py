"""Demo data for the memberships beyond content (issue 17): one module per kind, each with
``seed(command)`` that is idempotent like the rest of ``seed_demo``."""

from . import deliveries, loyalty, member_prices, referrals, services, usage

#: In the order ``seed_demo`` runs them (after tiers, prices, pages and downloads).
KINDS = (member_prices, loyalty, referrals, deliveries, services, usage)
