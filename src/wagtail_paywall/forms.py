"""Forms of the member's journey: checkout, cancel (with its survey), resume, plan change.

See ``docs/journey.md`` (Account).
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import CancellationFeedback
from .models.segments import country_code


class CheckoutForm(forms.Form):
    """What the pricing page posts to start a checkout."""

    price = forms.CharField(label=_("Price"), max_length=64)
    provider = forms.CharField(label=_("Payment provider"), max_length=64, required=False)
    coupon = forms.CharField(label=_("Coupon code"), max_length=64, required=False)
    # Where to send the visitor back to; checked against the allowed hosts before use.
    next = forms.CharField(max_length=2000, required=False, widget=forms.HiddenInput)
    # A nonce per rendered form: a double click retries one checkout, never starts two.
    attempt = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
    # The member's billing country (ISO 3166-1 alpha-2), kept for the Members screen's
    # segments; a provider's own checkout page may report another one later.
    # (A longer value is read, to be refused by name, not by its length.)
    country = forms.CharField(label=_("Billing country"), max_length=64, required=False)

    def clean_country(self) -> str:
        value = self.cleaned_data.get("country", "")
        if not value:
            return ""
        code = country_code(value)
        if code is None:
            raise forms.ValidationError(
                _("“%(value)s” is not a two-letter country code such as DE or US."),
                params={"value": value},
                code="country",
            )
        return code


class MembershipForm(forms.Form):
    """Names the membership an account action applies to."""

    membership = forms.CharField(max_length=64, widget=forms.HiddenInput)


class CancelForm(MembershipForm):
    """Cancel at the end of the paid period, telling us why (the publisher reads it)."""

    reason = forms.ChoiceField(
        label=_("Why are you leaving?"),
        choices=CancellationFeedback.Reason.choices,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything else you'd like to tell us? (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # The retention offer (its RetentionAttempt's id) the member turned down to get here;
    # never validated strictly: whatever it holds, the cancellation goes on.
    declined = forms.CharField(max_length=20, required=False, widget=forms.HiddenInput)


class RetentionOfferForm(MembershipForm):
    """Accept the retention offer shown after the cancellation reason."""

    reason = forms.ChoiceField(choices=CancellationFeedback.Reason.choices)
    offer = forms.CharField(max_length=64)
    attempt = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    # A pause's length; the offer's own maximum is checked when it is accepted.
    months = forms.IntegerField(label=_("Pause for"), min_value=1, max_value=12, required=False)


class ChangePlanForm(MembershipForm):
    """Move a membership to another recurring price."""

    price = forms.CharField(label=_("New plan"), max_length=64)


class PortalForm(forms.Form):
    """Open the billing portal of one provider."""

    provider = forms.CharField(max_length=64, widget=forms.HiddenInput)
