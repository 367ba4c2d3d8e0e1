"""The local provider's library of message patterns: for each intent and tone, SMS wordings and an e-mail.

A pattern is text with slots the composer fills: {name} (the first-name variable with a fallback), {brand},
{offer} ("20% off", "Rs.500 off", "free delivery"), {code} (" with code X", or nothing), {occasion},
{offer_title} (the same, capitalised), {deadline} and {since} (how long since the last order, per customer).
SMS wordings are listed longest first: the composer takes the first that fits one SMS for every recipient.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    sms: tuple[str, ...]
    subject: str
    body: str


P = Pattern
PATTERNS: dict[str, dict[str, Pattern]] = {
    "win_back": {
        "friendly": P(
            ("Hi {name}, we miss you at {brand}! Here's {offer} on your next order{code}. Come see what's new.",
             "Hi {name}, we miss you! {offer_title} on your next {brand} order{code}."),
            "We miss you, {name}",
            "Hi {name},\n\nIt's been {since} since your last order, and we've missed you at {brand}.\n\n"
            "Here's {offer} on your next order{code}. We'd love to see you back.\n\nThe {brand} team",
        ),
        "urgent": P(
            ("{name}, your {offer} is waiting{code}, {deadline}. Come back to {brand} now!",
             "{name}: {offer}{code}, {deadline}. Shop {brand} now!"),
            "{name}, {offer} for you, {deadline}",
            "Hi {name},\n\nWe've saved {offer} for you{code}, {deadline}. It won't last.\n\n"
            "It's been {since} since you last shopped with {brand}. Don't miss out.\n\nThe {brand} team",
        ),
        "premium": P(
            ("{name}, it has been a while. As a valued {brand} customer, enjoy {offer} on your return{code}.",
             "{name}, enjoy {offer} on your return to {brand}{code}."),
            "An invitation back to {brand}, {name}",
            "Dear {name},\n\nIt has been {since} since your last visit, and we would be delighted to welcome you "
            "back.\n\nAs a valued customer, please enjoy {offer} on your next order{code}.\n\nWarm regards,\n{brand}",
        ),
    },
    "welcome": {
        "friendly": P(
            ("Welcome to {brand}, {name}! Here's {offer} on your first order{code}. Happy shopping!",
             "Welcome to {brand}, {name}! {offer_title} on your first order{code}."),
            "Welcome to {brand}, {name}!",
            "Hi {name},\n\nWelcome to {brand}! We're so glad you're here.\n\n"
            "To get you started, here's {offer} on your first order{code}.\n\nHappy shopping,\nThe {brand} team",
        ),
        "urgent": P(
            ("{name}, your {brand} welcome gift: {offer} on your first order{code}. Use it {deadline}!",
             "{name}: {offer} on your first {brand} order{code}, {deadline}!"),
            "{name}, your welcome gift is waiting, {deadline}",
            "Hi {name},\n\nYour welcome gift is ready: {offer} on your first order{code}.\n\n"
            "Use it {deadline}, and don't wait too long.\n\nThe {brand} team",
        ),
        "premium": P(
            ("{name}, welcome to {brand}. As a new member, enjoy {offer} on your first order{code}.",
             "{name}, welcome to {brand}: {offer} on your first order{code}."),
            "Welcome to {brand}, {name}",
            "Dear {name},\n\nThank you for joining {brand}. We look forward to being part of your story.\n\n"
            "Please accept {offer} on your first order{code}, with our compliments.\n\nWarm regards,\n{brand}",
        ),
    },
    "cart_recovery": {
        "friendly": P(
            ("Hi {name}, you left something in your {brand} cart! Complete your order and get {offer}{code}.",
             "Hi {name}, your {brand} cart misses you! {offer_title}{code}."),
            "{name}, you left something behind",
            "Hi {name},\n\nYou left a few things in your cart. They're still waiting for you.\n\n"
            "Complete your order and get {offer}{code}.\n\nThe {brand} team",
        ),
        "urgent": P(
            ("{name}, the items in your {brand} cart are selling fast! Check out now for {offer}{code}, {deadline}.",
             "{name}: your cart is selling fast. {offer_title}{code}, {deadline}!"),
            "{name}, your cart is about to expire",
            "Hi {name},\n\nThe items in your cart are selling fast and we can't hold them for long.\n\n"
            "Check out now and get {offer}{code}, {deadline}.\n\nThe {brand} team",
        ),
        "premium": P(
            ("{name}, we have kept your selection at {brand}. Complete your order with {offer}{code}.",
             "{name}, your {brand} selection awaits: {offer}{code}."),
            "Your selection is waiting, {name}",
            "Dear {name},\n\nWe have kept your selection for you.\n\n"
            "Whenever you are ready, complete your order and enjoy {offer}{code}.\n\nWarm regards,\n{brand}",
        ),
    },
    "festive_sale": {
        "friendly": P(
            ("Happy {occasion}, {name}! Celebrate with {offer} at {brand}{code}. Happy shopping!",
             "Happy {occasion}, {name}! {offer_title} at {brand}{code}."),
            "Happy {occasion}, {name}! {offer_title} inside",
            "Hi {name},\n\nHappy {occasion} from all of us at {brand}!\n\n"
            "Celebrate with {offer} on everything you love{code}.\n\nThe {brand} team",
        ),
        "urgent": P(
            ("{name}, the {brand} {occasion} sale is on, {deadline}! Grab {offer}{code} before it's gone.",
             "{name}: {occasion} sale, {offer}{code}, {deadline}!"),
            "Last call, {name}: {occasion} sale, {deadline}",
            "Hi {name},\n\nOur {occasion} sale is on, {deadline}.\n\n"
            "Grab {offer}{code} on your favourites before it's gone.\n\nThe {brand} team",
        ),
        "premium": P(
            ("{name}, celebrate {occasion} with {brand}: {offer}, reserved for you{code}.",
             "{name}, {occasion} at {brand}: {offer}, just for you{code}."),
            "An exclusive {occasion} offer for you, {name}",
            "Dear {name},\n\nThis {occasion}, we have prepared something special for our valued customers.\n\n"
            "Enjoy {offer}, reserved for you{code}.\n\nWith warm wishes,\n{brand}",
        ),
    },
    "upsell": {
        "friendly": P(
            ("Hi {name}, thanks for shopping with {brand}! Here's {offer} on your next order{code}.",
             "Thanks {name}! {offer_title} on your next {brand} order{code}."),
            "A thank-you from {brand}, {name}",
            "Hi {name},\n\nThank you for being one of our regulars at {brand}.\n\n"
            "Here's {offer} on your next order{code}, because you deserve it.\n\nThe {brand} team",
        ),
        "urgent": P(
            ("{name}, an offer for our best customers: {offer} at {brand}{code}, {deadline}!",
             "{name}: {offer} for top customers{code}, {deadline}!"),
            "{name}, your member offer, {deadline}",
            "Hi {name},\n\nAs one of our best customers you get {offer}{code}.\n\n"
            "Use it {deadline}, and make the most of it.\n\nThe {brand} team",
        ),
        "premium": P(
            ("{name}, as one of our most valued customers, enjoy {offer} at {brand}{code}.",
             "{name}, {brand} invites you to enjoy {offer}{code}."),
            "For our most valued customers, {name}",
            "Dear {name},\n\nYou are among our most valued customers, and we would like to thank you.\n\n"
            "Please enjoy {offer} on your next order{code}.\n\nWith gratitude,\n{brand}",
        ),
    },
    "launch": {
        "friendly": P(
            ("Hi {name}, something new just landed at {brand}! Be the first to see it, with {offer}{code}.",
             "Hi {name}, new at {brand}! {offer_title}{code}."),
            "New at {brand}, {name}",
            "Hi {name},\n\nSomething new just landed at {brand}, and we think you'll love it.\n\n"
            "Be among the first to see it, with {offer}{code}.\n\nThe {brand} team",
        ),
        "urgent": P(
            ("{name}, the new {brand} collection is here and going fast! {offer_title}{code}, {deadline}.",
             "{name}: new {brand} drop, {offer}{code}, {deadline}!"),
            "{name}, it's here, and going fast",
            "Hi {name},\n\nOur new collection is here and it's going fast.\n\n"
            "Get {offer}{code}, {deadline}.\n\nThe {brand} team",
        ),
        "premium": P(
            ("{name}, a first look at the new {brand} collection, reserved for you, with {offer}{code}.",
             "{name}, your first look at new {brand}: {offer}{code}."),
            "A first look, reserved for you, {name}",
            "Dear {name},\n\nBefore anyone else, we would like to show you our new collection.\n\n"
            "Enjoy {offer} as one of the first to shop it{code}.\n\nWarm regards,\n{brand}",
        ),
    },
    "promotion": {
        "friendly": P(
            ("Hi {name}, there's something for you at {brand}: {offer}{code}. Happy shopping!",
             "Hi {name}! {offer_title} at {brand}{code}."),
            "Something for you, {name}",
            "Hi {name},\n\nWe've got something for you at {brand}: {offer}{code}.\n\nHappy shopping,\nThe {brand} team",
        ),
        "urgent": P(
            ("{name}, don't miss it: {offer} at {brand}{code}, {deadline}!",
             "{name}: {offer}{code} at {brand}, {deadline}!"),
            "{name}, {offer}, {deadline}",
            "Hi {name},\n\nDon't miss it: {offer} at {brand}{code}, {deadline}.\n\nThe {brand} team",
        ),
        "premium": P(
            ("{name}, {brand} has reserved {offer} for you{code}.",
             "{name}, {offer} from {brand}{code}."),
            "Reserved for you, {name}",
            "Dear {name},\n\nWe have reserved {offer} for you{code}.\n\nWarm regards,\n{brand}",
        ),
    },
}  # fmt: skip

# What the offer is when the objective names none: a gesture suited to the intent.
DEFAULT_OFFERS = {
    "win_back": "a welcome-back treat",
    "welcome": "a welcome gift",
    "cart_recovery": "free delivery",
    "festive_sale": "festive savings",
    "upsell": "an exclusive member reward",
    "launch": "early access",
    "promotion": "a special offer",
}
DEFAULT_OCCASION = "the season"
DEFAULT_DEADLINE = "while stocks last"
