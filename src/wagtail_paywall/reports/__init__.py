"""The membership reports: the ledger they are summed from (:mod:`.ledger`), the figures
as database aggregates (:mod:`.membership`), their cache (:mod:`.cache`) and the SVG
charts the admin draws from them (:mod:`.charts`). See ``docs/metrics.md``.
"""
