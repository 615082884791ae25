"""What ``seed_demo`` puts on the site: tiers, prices, articles, a course and downloads.

Plain data, so the seed command reads as a list of what exists and a reader can see at a
glance which article is public, metered, for a tier or for sale.
"""

from __future__ import annotations

from datetime import date, timedelta

#: (slug, name, rank, entitlements, description)
TIERS = [
    ("free", "Free", 0, "", "Register to read members-only articles and the free downloads."),
    (
        "supporter",
        "Supporter",
        1,
        "content.supporter\ndownloads: 3 per month",
        "Unlimited articles for supporters, the course, and 3 downloads a month.",
    ),
    (
        "premium",
        "Premium",
        2,
        "content.premium\ncourse.membership-101\ndownloads: 10 per month",
        "Everything: premium analysis, the course, the field guide and 10 downloads a month.",
    ),
]

#: Monthly and yearly prices per tier, in minor units, in four currencies.
TIER_PRICES = {
    "supporter": {
        "month": {"EUR": 500, "PLN": 2000, "DKK": 3700, "USD": 600},
        "year": {"EUR": 5000, "PLN": 20000, "DKK": 37000, "USD": 6000},
    },
    "premium": {
        "month": {"EUR": 1200, "PLN": 5000, "DKK": 9000, "USD": 1300},
        "year": {"EUR": 12000, "PLN": 50000, "DKK": 90000, "USD": 13000},
    },
}
#: Yearly Premium starts with a free fortnight.
TRIAL_DAYS = {("premium", "year"): 14}

#: The one item sold on its own (a one-off purchase), and its prices.
ITEM_KEY = "report:field-guide-2026"
ITEM_NAME = "The 2026 membership field guide"
ITEM_PRICES = {"EUR": 900, "PLN": 3900, "DKK": 6900, "USD": 1000}

#: Gifts of Premium, in euros, by months (see docs/gifts.md).
GIFT_PRICES = {1: 1200, 3: 3300, 6: 6000, 12: 10800}

#: Metered articles: this many free reads a month, then Supporter or above.
METER_FREE = 3

#: The marker every premium part starts with, so a test can tell it was (not) served.
PREMIUM_MARK = "Members' part:"

FIRST_DATE = date(2026, 11, 20)

# (slug, title, summary, rule, tier)  - rule: public | registered | metered | tier | purchase
_ARTICLES = [
    (
        "why-memberships",
        "Why memberships beat one-off sales",
        "Recurring relationships, not transactions, are what a publisher can build on.",
        "public",
        None,
    ),
    (
        "freemium-that-works",
        "Freemium that works",
        "Give away enough to be useful, and keep enough back to be worth paying for.",
        "metered",
        None,
    ),
    (
        "churn-is-a-signal",
        "Churn is a signal, not a number",
        "Every cancellation tells you something. Asking why is the cheapest research there is.",
        "premium",
        "premium",
    ),
    (
        "pricing-in-four-currencies",
        "Pricing in four currencies",
        "Round numbers per market beat exchange-rate arithmetic.",
        "metered",
        None,
    ),
    (
        "the-first-90-days",
        "The first 90 days of a member",
        "Most members decide in their first quarter whether they stay for years.",
        "tier",
        "supporter",
    ),
    (
        "trials-without-regret",
        "Trials without regret",
        "How long a free trial should be, and what to show during it.",
        "metered",
        None,
    ),
    (
        "community-as-product",
        "Community as the product",
        "For many members the other members are the reason to stay.",
        "registered",
        None,
    ),
    (
        "management-by-exception",
        "Management by exception",
        "Spot the members at risk before they leave, not after.",
        "premium",
        "premium",
    ),
    (
        "loyalty-and-discounts",
        "Loyalty memberships and discounts",
        "What retailers learned about paying for the right to pay less.",
        "public",
        None,
    ),
    (
        "metered-paywalls-explained",
        "Metered paywalls, explained",
        "A few free articles a month turn readers into registered readers.",
        "metered",
        None,
    ),
    (
        "segment-your-offers",
        "Segment your offers",
        "Students, teams and loyal readers want different things from one publication.",
        "tier",
        "supporter",
    ),
    (
        "lifetime-value",
        "Lifetime value without the spreadsheet",
        "A back-of-the-envelope method that is good enough to decide with.",
        "metered",
        None,
    ),
    (
        "ab-testing-prices",
        "A/B testing prices, carefully",
        "Test offers, not people: what to vary and what to keep fixed.",
        "registered",
        None,
    ),
    (
        "the-registration-wall",
        "The registration wall",
        "Asking for an e-mail address first is the gentlest paywall.",
        "public",
        None,
    ),
    (
        "delivery-memberships",
        "Memberships for deliveries",
        "Free shipping as a membership, and why it changes how often people buy.",
        "public",
        None,
    ),
    (
        "service-memberships",
        "Memberships for services",
        "From gyms to software: paying for access rather than for use.",
        "metered",
        None,
    ),
    (
        "retention-cohorts",
        "Reading retention cohorts",
        "The one chart that tells you whether your membership is healthy.",
        "registered",
        None,
    ),
    (
        "gifts-and-teams",
        "Gift and team memberships",
        "Other people paying for your members is a growth channel of its own.",
        "public",
        None,
    ),
    (
        "cancel-flows",
        "Cancel flows that respect people",
        "Make leaving easy, ask one question, and mean the goodbye.",
        "public",
        None,
    ),
    (
        "field-guide-2026",
        ITEM_NAME,
        "Our long-form guide to running a membership in 2026, sold on its own or with Premium.",
        "purchase",
        "premium",
    ),
]


def articles() -> list[dict[str, object]]:
    """The ~20 articles, newest first, each with its access fields and body blocks."""
    out = []
    for n, (slug, title, summary, rule, tier) in enumerate(_ARTICLES):
        gated = rule != "public"
        body: list[dict[str, object]] = [
            {
                "type": "paragraph",
                "value": "<p>Publishers who run memberships keep meeting the same question, "
                "and the answer is rarely the one the spreadsheet suggests.</p>",
            },
            {
                "type": "paragraph",
                "value": (
                    f"<p>This is the free part of <em>{title}</em>. Everyone may read it; "
                    "it sets out the question and why it matters to a publisher.</p>"
                ),
            },
        ]
        if gated:
            body.append({"type": "paywall", "value": None})
        body += [
            {"type": "heading", "value": "What to do about it"},
            {
                "type": "paragraph",
                "value": (
                    f"<p>{PREMIUM_MARK} the full argument of <em>{title}</em>, with the worked "
                    "example, the numbers behind it and a checklist to take away.</p>"
                ),
            },
            {
                "type": "quote",
                "value": "Members stay for the relationship, and leave when it stops.",
            },
            {
                "type": "paragraph",
                "value": (
                    "<p>Start small: pick one change from the checklist, measure it for a "
                    "month, and keep what works.</p>"
                ),
            },
        ]
        out.append(
            {
                "slug": slug,
                "title": title,
                "summary": summary,
                "date": FIRST_DATE - timedelta(days=2 * n),
                "rule": "tier" if rule == "premium" else rule,
                "tier": tier,
                "body": body,
            }
        )
    return out


COURSE = {
    "slug": "course",
    "title": "Membership economics 101",
    "summary": "Five short lessons, one opening every few days after you join.",
    "tier": "supporter",
}

#: (slug, title, opens after N days)
LESSONS = [
    ("what-members-buy", "What members really buy", 0),
    ("tiers-and-prices", "Designing tiers and prices", 3),
    ("onboarding", "Onboarding the new member", 7),
    ("measuring-churn", "Measuring churn and retention", 14),
    ("winning-back", "Winning members back", 21),
]

#: (title, filename, kind, rule, tier, entitlement)
DOCUMENTS = [
    ("Membership glossary", "membership-glossary.txt", "text", "public", None, ""),
    ("Reader survey 2026 (data)", "reader-survey-2026.csv", "csv", "registered", None, ""),
    ("Pricing worksheet", "pricing-worksheet.pdf", "pdf", "entitlement", None, "downloads"),
    ("Churn playbook", "churn-playbook.pdf", "pdf", "entitlement", None, "downloads"),
    ("Member interview transcripts", "member-interviews.txt", "text", "tier", "premium", ""),
]


def pdf_bytes(title: str, lines: list[str]) -> bytes:
    """A small valid one-page PDF showing ``title`` and ``lines`` in Helvetica."""

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = ["BT", "/F1 20 Tf", "72 760 Td", f"({esc(title)}) Tj", "/F1 12 Tf"]
    for line in lines:
        text += ["0 -22 Td", f"({esc(line)}) Tj"]
    text.append("ET")
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def document_bytes(title: str, kind: str) -> bytes:
    """The file of a seeded document, generated in code."""
    if kind == "pdf":
        return pdf_bytes(
            title,
            [
                "The Paywall Post - a demo download.",
                "1. Write down what members get.",
                "2. Price it in round numbers per currency.",
                "3. Ask every member who leaves why.",
            ],
        )
    if kind == "csv":
        rows = ["question,agree,neutral,disagree", "I read every week,61,24,15"]
        rows += ["I would pay for a team plan,22,41,37", "I would recommend us,74,19,7"]
        return ("\n".join(rows) + "\n").encode()
    return (
        f"{title}\n{'=' * len(title)}\n\n"
        "Churn: the share of members who leave in a period.\n"
        "MRR: monthly recurring revenue.\n"
        "LTV: what a member pays over their whole membership.\n"
    ).encode()
