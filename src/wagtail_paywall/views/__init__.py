"""The member's journey, one module per flow: :mod:`.pricing`, :mod:`.checkout`,
:mod:`.account`, :mod:`.webhooks` and the fake provider's payment page
(:mod:`.fake_checkout`); :mod:`.base` holds what they share. See ``docs/journey.md``.
"""
