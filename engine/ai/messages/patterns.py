"""The local provider's library of message patterns: for each intent and tone, SMS wordings and an e-mail.

A pattern is text with slots the composer fills: {name} (the first-name variable with a fallback), {brand},
{team} (the sign-off: "The Kurta & Co team"), {offer} ("up to 40% off on sarees", "Rs.500 off", "free
delivery"), {offer_title} (the same, capitalised), {code} (" with code X", or nothing; the composer adds
the objective's deadline to it in wordings without {deadline}), {occasion}, {deadline}, {new} (what is
launched: "our monsoon collection"), {new_title} and {since} (how long since the last order, per
customer). No pattern adds to the offer ("on everything you love"): the objective's facts are all it
says. SMS wordings are listed longest first: the composer takes the first that fits one SMS for every
recipient.
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
            "Here's {offer} on your next order{code}. We'd love to see you back.\n\n{team}",
        ),
        "urgent": P(
            ("{name}, your {offer} is waiting{code}, {deadline}. Come back to {brand} now!",
             "{name}: {offer}{code}, {deadline}. Shop {brand} now!"),
            "{name}, {offer} for you, {deadline}",
            "Hi {name},\n\nWe've saved {offer} for you{code}, {deadline}. It won't last.\n\n"
            "It's been {since} since you last shopped with {brand}. Don't miss out.\n\n{team}",
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
            "To get you started, here's {offer} on your first order{code}.\n\nHappy shopping,\n{team}",
        ),
        "urgent": P(
            ("{name}, your {brand} welcome gift: {offer} on your first order{code}. Use it {deadline}!",
             "{name}: {offer} on your first {brand} order{code}, {deadline}!"),
            "{name}, your welcome gift is waiting, {deadline}",
            "Hi {name},\n\nYour welcome gift is ready: {offer} on your first order{code}.\n\n"
            "Use it {deadline}, and don't wait too long.\n\n{team}",
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
            "Complete your order and get {offer}{code}.\n\n{team}",
        ),
        "urgent": P(
            ("{name}, the items in your {brand} cart are selling fast! Check out now for {offer}{code}, {deadline}.",
             "{name}: your cart is selling fast. {offer_title}{code}, {deadline}!"),
            "{name}, your cart is about to expire",
            "Hi {name},\n\nThe items in your cart are selling fast and we can't hold them for long.\n\n"
            "Check out now and get {offer}{code}, {deadline}.\n\n{team}",
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
            "Celebrate with {offer}{code}.\n\n{team}",
        ),
        "urgent": P(
            ("{name}, the {brand} {occasion} sale is on, {deadline}! Grab {offer}{code} before it's gone.",
             "{name}: {occasion} sale, {offer}{code}, {deadline}!"),
            "Last call, {name}: {occasion} sale, {deadline}",
            "Hi {name},\n\nOur {occasion} sale is on, {deadline}.\n\n"
            "Grab {offer}{code} before it's gone.\n\n{team}",
        ),
        "premium": P(
            ("{name}, celebrate {occasion} with {brand}: {offer}, reserved for you{code}.",
             "{name}, {occasion} at {brand}: {offer}, just for you{code}."),
            "An exclusive {occasion} offer for you, {name}",
            "Dear {name},\n\nThis {occasion}, we have prepared something special for our valued customers.\n\n"
            "Enjoy {offer}, reserved for you{code}.\n\nWith warm wishes,\n{brand}",
        ),
    },
    "thank_you": {
        "friendly": P(
            ("Hi {name}, thank you for shopping with {brand}! As a small thank-you, here's {offer}{code}.",
             "Thank you, {name}! Here's {offer} from {brand}{code}."),
            "Thank you, {name}",
            "Hi {name},\n\nThank you for being part of {brand}. Customers like you are why we do what we do.\n\n"
            "As a small thank-you, here's {offer}{code}.\n\n{team}",
        ),
        "urgent": P(
            ("{name}, a thank-you from {brand}: {offer}{code}. Use it {deadline}!",
             "{name}: thank you! {offer_title}{code}, {deadline}."),
            "{name}, a thank-you for you, {deadline}",
            "Hi {name},\n\nThank you for shopping with {brand}. We've set aside {offer} for you{code}.\n\n"
            "Use it {deadline}.\n\n{team}",
        ),
        "premium": P(
            ("{name}, with our sincere thanks for your loyalty, {brand} would like you to enjoy {offer}{code}.",
             "{name}, with thanks from {brand}: {offer}{code}."),
            "With our thanks, {name}",
            "Dear {name},\n\nThank you for your loyalty to {brand}. It means a great deal to us.\n\n"
            "Please accept {offer}{code}, with our gratitude.\n\nWarm regards,\n{brand}",
        ),
    },
    "upsell": {
        "friendly": P(
            ("Hi {name}, picked for you at {brand}: add to your next order and get {offer}{code}.",
             "Hi {name}, go one better at {brand}: {offer}{code}."),
            "Picked for you, {name}",
            "Hi {name},\n\nWe've picked a few things at {brand} that go with what you love.\n\n"
            "Add them to your next order and get {offer}{code}.\n\n{team}",
        ),
        "urgent": P(
            ("{name}, upgrade your {brand} order: {offer}{code}, {deadline}!",
             "{name}: upgrade for {offer}{code}, {deadline}!"),
            "{name}, time to upgrade, {deadline}",
            "Hi {name},\n\nThis is the moment to upgrade: {offer}{code}, {deadline}.\n\n"
            "Make the most of {brand}.\n\n{team}",
        ),
        "premium": P(
            ("{name}, we have chosen something more for you at {brand}: enjoy {offer}{code}.",
             "{name}, discover more at {brand}: {offer}{code}."),
            "Chosen for you, {name}",
            "Dear {name},\n\nWe have chosen a few pieces at {brand} we believe you will appreciate.\n\n"
            "Enjoy {offer} when you add them to your collection{code}.\n\nWarm regards,\n{brand}",
        ),
    },
    "launch": {
        "friendly": P(
            ("Hi {name}, {new} just landed at {brand}! Be the first to see it, with {offer}{code}.",
             "Hi {name}, new at {brand}: {new}! {offer_title}{code}."),
            "New at {brand}, {name}",
            "Hi {name},\n\n{new_title} just landed at {brand}, and we think you'll love it.\n\n"
            "Be among the first to see it, with {offer}{code}.\n\n{team}",
        ),
        "urgent": P(
            ("{name}, {new} is here at {brand} and going fast! {offer_title}{code}, {deadline}.",
             "{name}: {new} at {brand}, {offer}{code}, {deadline}!"),
            "{name}, it's here, and going fast",
            "Hi {name},\n\n{new_title} is here at {brand}, and it's going fast.\n\n"
            "Get {offer}{code}, {deadline}.\n\n{team}",
        ),
        "premium": P(
            ("{name}, a first look at {new} at {brand}, reserved for you, with {offer}{code}.",
             "{name}, your first look at {new}: {offer}{code}."),
            "A first look, reserved for you, {name}",
            "Dear {name},\n\nBefore anyone else, we would like to show you {new} at {brand}.\n\n"
            "Enjoy {offer} as one of the first to shop it{code}.\n\nWarm regards,\n{brand}",
        ),
    },
    "promotion": {
        "friendly": P(
            ("Hi {name}, there's something for you at {brand}: {offer}{code}. Happy shopping!",
             "Hi {name}! {offer_title} at {brand}{code}."),
            "Something for you, {name}",
            "Hi {name},\n\nWe've got something for you at {brand}: {offer}{code}.\n\nHappy shopping,\n{team}",
        ),
        "urgent": P(
            ("{name}, don't miss it: {offer} at {brand}{code}, {deadline}!",
             "{name}: {offer}{code} at {brand}, {deadline}!"),
            "{name}, {offer}, {deadline}",
            "Hi {name},\n\nDon't miss it: {offer} at {brand}{code}, {deadline}.\n\n{team}",
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
    "thank_you": "a little thank-you from us",
    "upsell": "an exclusive member reward",
    "launch": "early access",
    "promotion": "a special offer",
}
DEFAULT_OCCASION = "the season"
DEFAULT_LAUNCHED = "our new collection"
DEFAULT_DEADLINE = "while stocks last"
