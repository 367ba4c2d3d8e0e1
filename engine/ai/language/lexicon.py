"""The words the local parser knows: numbers, amounts, comparisons, time windows, places, events and synonyms.

Every pattern here is a regular expression matched case-insensitively at one position of the user's text
(`re.Pattern.match(text, pos)`), so each match has exact offsets and whatever no pattern covers can be
pointed at. The tables are data: adding a city alias or an event phrasing is one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FLAGS = re.IGNORECASE


def compile_words(*alternatives: str) -> str:
    """A regex alternation of `alternatives`, longest first so "more than" wins over "more"."""
    return "|".join(sorted(alternatives, key=len, reverse=True))


# --- numbers -----------------------------------------------------------------------------------------

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "a hundred": 100,
    "a dozen": 12, "a couple of": 2, "a couple": 2,
}  # fmt: skip
TIMES_WORDS = {"once": 1, "twice": 2, "thrice": 3}
WHOLE = rf"(?:\d+|{compile_words(*NUMBER_WORDS)})\b"


def whole_number(text: str) -> int:
    """A whole number written in digits or words ("3", "three", "a dozen")."""
    word = re.sub(r"\s+", " ", text.strip().lower())
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


# --- amounts of money ----------------------------------------------------------------------------------

CURRENCY_BEFORE = r"(?:₹|rs\.?|inr|us\$|\$|usd|€|eur|£|gbp)"
CURRENCY_AFTER = r"(?:rupees?|rs\.?|inr|dollars?|usd|euros?|eur|pounds?|gbp|bucks)"
MULTIPLIERS = {
    "k": 1_000, "thousand": 1_000, "l": 100_000, "lakh": 100_000, "lakhs": 100_000, "lac": 100_000,
    "lacs": 100_000, "cr": 10_000_000, "crore": 10_000_000, "crores": 10_000_000, "m": 1_000_000,
    "mn": 1_000_000, "million": 1_000_000, "b": 1_000_000_000, "bn": 1_000_000_000, "billion": 1_000_000_000,
}  # fmt: skip
AMOUNT = (
    rf"(?:{CURRENCY_BEFORE}\s?)?(?P<digits>\d{{1,3}}(?:,\d{{2,3}})+|\d+)(?P<fraction>\.\d+)?"
    rf"(?:\s?(?P<multiplier>{compile_words(*MULTIPLIERS)})\b)?(?:\s?{CURRENCY_AFTER}\b)?"
)


def amount_value(match: re.Match[str]) -> int | float:
    """The amount an `AMOUNT` match names: "₹10K" is 10000, "Rs 1.5 lakh" 150000, "$2M" 2000000."""
    number = float(match.group("digits").replace(",", "") + (match.group("fraction") or ""))
    multiplier = match.group("multiplier")
    if multiplier:
        number *= MULTIPLIERS[multiplier.lower()]
    return int(number) if number.is_integer() else round(number, 2)


# --- comparisons ----------------------------------------------------------------------------------------

COMPARATORS = {
    ">=": ("at least", "no less than", "not less than", "no fewer than", "not fewer than", "a minimum of",
           "minimum of", "minimum", "upwards of", ">=", "≥"),
    ">": ("more than", "greater than", "higher than", "bigger than", "larger than", "in excess of", "exceeding",
          "exceeds", "above", "over", "beyond", ">"),
    "<=": ("at most", "no more than", "not more than", "up to", "a maximum of", "maximum of", "maximum", "<=",
           "≤"),
    "<": ("less than", "fewer than", "lower than", "smaller than", "under", "below", "<"),
    "=": ("exactly", "precisely", "equal to", "equals", "only", "just", "="),
}  # fmt: skip
COMPARATOR_OPS = {word: op for op, words in COMPARATORS.items() for word in words}
COMPARATOR = rf"(?P<comparator>{compile_words(*(re.escape(w) for w in COMPARATOR_OPS))})(?![\w>=<])"
POSTFIX_OPS = {
    **dict.fromkeys(("+", "or more", "or above", "or higher", "and above", "and up", "and over", "or over"), ">="),
    **dict.fromkeys(("or less", "or fewer", "or below", "or under", "and below", "and under", "or lower"), "<="),
}
POSTFIX = rf"(?P<postfix>{compile_words(*(re.escape(w) for w in POSTFIX_OPS))})"


def comparator_op(word: str) -> str:
    return COMPARATOR_OPS[re.sub(r"\s+", " ", word.lower())]


def postfix_op(word: str) -> str:
    return POSTFIX_OPS[re.sub(r"\s+", " ", word.lower())]


# --- time ------------------------------------------------------------------------------------------------

UNIT = r"(?P<unit>days?|weeks?|fortnights?|months?|quarters?|years?|yrs?)\b"
UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30, "quarter": 90, "year": 365, "yr": 365}
SPAN = rf"(?:(?P<count>{WHOLE}|half\s+an?\b|an?\b)\s*)?{UNIT}"


def days_in(count: str | None, unit: str) -> int:
    """Days in "3 months" (90), "a year" (365), "12 months" (365: a year, not 360), "2 weeks" (14), "half a
    year" (180: six months)."""
    said = "a" if count is None else re.sub(r"\s+", " ", count.strip().lower())
    unit = unit.lower().rstrip("s")
    if said.startswith("half"):
        return 180 if unit in ("year", "yr") else UNIT_DAYS[unit] // 2
    n = 1 if said in ("a", "an") else whole_number(said)
    if unit == "month" and n % 12 == 0:
        return n // 12 * 365
    return n * UNIT_DAYS[unit]


# "in the last 30 days", "over the past 3 months", "last month", "within 90 days", "in a year", "yesterday"
WINDOWS = (
    rf"(?:(?:in|within|during|over|for|from)\s+)?(?:the\s+)?(?:last|past|previous|recent|preceding)\s+{SPAN}",
    rf"(?:in|within|for)\s+(?:the\s+)?(?:over\s+|more than\s+)?{SPAN}",
    r"(?P<yesterday>yesterday)\b",
)
# "more than 60 days ago", "over a year ago", "less than 2 weeks ago", "90 days ago"
AGO = rf"(?:{COMPARATOR}\s+)?{SPAN}\s+ago\b"
# "for 90 days", "for over 3 months", "since 60 days", "in over 90 days"
DURATION = rf"(?:for|since|in)\s+(?:(?:over|more than|at least)\s+)?{SPAN}"

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_MONTH_NAMES = compile_words(*MONTHS)
DATE = (
    r"(?P<iso>\d{4}-\d{2}-\d{2})\b"
    rf"|(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month>{_MONTH_NAMES})\.?,?\s+(?P<year>\d{{4}})\b"
    rf"|(?P<month2>{_MONTH_NAMES})\.?\s+(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year2>\d{{4}})\b"
)


# Days people date things by, as (month, day) per year; "since Diwali" is the latest one on or before today.
FESTIVALS = {
    "diwali": {2024: (11, 1), 2025: (10, 20), 2026: (11, 8), 2027: (10, 29)},
    "holi": {2024: (3, 25), 2025: (3, 14), 2026: (3, 4), 2027: (3, 22)},
    "christmas": dict.fromkeys(range(2020, 2031), (12, 25)),
    "new year": dict.fromkeys(range(2020, 2031), (1, 1)),
    "new year's": dict.fromkeys(range(2020, 2031), (1, 1)),
}
# "this month", "since March", "in February", "since Diwali": dates counted from today.
CALENDAR = (
    rf"(?P<this>this\s+(?P<this_unit>month|year|week))\b"
    rf"|(?P<cal_op>since|from|in|during)\s+(?P<month_name>{_MONTH_NAMES})\b(?!\s+\d)"
    rf"|(?P<fest_op>since|after|before)\s+(?P<festival>{compile_words(*(re.escape(name) for name in FESTIVALS))})\b"
)


def date_text(match: re.Match[str]) -> str:
    """The ISO date a `DATE` match names."""
    if match.group("iso"):
        return match.group("iso")
    if match.group("day"):
        day, month, year = match.group("day"), match.group("month"), match.group("year")
    else:
        day, month, year = match.group("day2"), match.group("month2"), match.group("year2")
    return f"{int(year):04d}-{MONTHS[month.lower()]:02d}-{int(day):02d}"


# --- places ------------------------------------------------------------------------------------------------

# City spellings people type -> the spelling the data uses.
CITIES = {
    "mumbai": "Mumbai", "bombay": "Mumbai", "delhi": "Delhi", "new delhi": "New Delhi", "bengaluru": "Bengaluru",
    "bangalore": "Bengaluru", "hyderabad": "Hyderabad", "chennai": "Chennai", "madras": "Chennai",
    "kolkata": "Kolkata", "calcutta": "Kolkata", "pune": "Pune", "poona": "Pune", "ahmedabad": "Ahmedabad",
    "jaipur": "Jaipur", "lucknow": "Lucknow", "kochi": "Kochi", "cochin": "Kochi", "indore": "Indore",
    "gurugram": "Gurugram", "gurgaon": "Gurugram", "noida": "Noida", "chandigarh": "Chandigarh", "surat": "Surat",
    "nagpur": "Nagpur", "bhopal": "Bhopal", "goa": "Goa", "london": "London", "manchester": "Manchester",
    "new york": "New York", "nyc": "New York", "san francisco": "San Francisco", "paris": "Paris",
    "berlin": "Berlin", "dubai": "Dubai", "toronto": "Toronto", "sydney": "Sydney", "tokyo": "Tokyo",
}  # fmt: skip
COUNTRIES = {
    "india": "IN", "united kingdom": "GB", "uk": "GB", "britain": "GB", "great britain": "GB", "england": "GB",
    "united states": "US", "usa": "US", "u.s.": "US", "america": "US", "the us": "US", "the usa": "US",
    "the uk": "GB", "uae": "AE", "the uae": "AE", "united arab emirates": "AE", "singapore": "SG",
    "canada": "CA", "australia": "AU", "germany": "DE", "france": "FR", "japan": "JP", "nepal": "NP",
    "sri lanka": "LK", "bangladesh": "BD",
}  # fmt: skip
KNOWN_PLACE = rf"(?P<known>{compile_words(*(re.escape(name) for name in (*CITIES, *COUNTRIES)))})\b"
# An unknown place is taken as a city when written with capitals: "in Springfield", "from Port Blair".
NEW_PLACE = r"(?P<new>[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})\b"


@dataclass(frozen=True)
class Place:
    """A place named in the text: the field it belongs to and the value the data uses."""

    field: str
    value: str


def known_place(name: str) -> Place:
    key = re.sub(r"\s+", " ", name.lower())
    if key in COUNTRIES:
        return Place("country", COUNTRIES[key])
    return Place("city", CITIES[key])


# --- events --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventPhrase:
    """How people say they did an event: a verb with its object ("opened ... emails"), or a noun ("email opens")."""

    event: str
    verb: str
    object: str
    noun: str
    object_optional: bool = False  # "browsed" alone says enough; "opened" alone does not


EVENTS = (
    EventPhrase(
        "Email Opened",
        verb=r"open(?:ed|s|ing)?|read",
        object=r"(?:an?\s+|any\s+|the\s+|our\s+|their\s+|some\s+)?(?:marketing\s+|promotional\s+)?"
        r"(?:e-?mails?|newsletters?|mails?)\b",
        noun=r"e-?mail\s+opens?\b",
    ),
    EventPhrase(
        "Email Link Clicked",
        verb=r"click(?:ed|s)?(?:\s+on)?",
        object=r"(?:an?\s+|any\s+|the\s+|our\s+)?(?:e-?mail\s+links?|links?\s+in\s+(?:an?\s+|our\s+)?e-?mails?|"
        r"e-?mails?)\b",
        noun=r"e-?mail\s+clicks?\b",
    ),
    EventPhrase(
        "Added To Cart",
        verb=r"add(?:ed|s)?|put|placed",
        object=r"(?:(?:an?\s+|any\s+|some\s+)?(?:items?|products?|something|anything)\s+)?(?:in|to|into)\s+"
        r"(?:their\s+|the\s+|a\s+|his\s+|her\s+)?(?:carts?|baskets?|bags?)\b",
        noun=r"(?:add(?:ed)?[- ]to[- ]carts?|cart\s+adds?|cart\s+additions?)\b",
    ),
    EventPhrase(
        "Product Viewed",
        verb=r"view(?:ed|s)?|brows(?:ed|es)|looked\s+at",
        object=r"(?:an?\s+|any\s+|the\s+|our\s+|some\s+)?(?:products?|items?|product\s+pages?)\b",
        noun=r"product\s+views?\b",
        object_optional=True,
    ),
    EventPhrase(
        "App Opened",
        verb=r"open(?:ed|s)?|launch(?:ed)?|used",
        object=r"(?:the\s+|our\s+)?(?:mobile\s+)?app\b",
        noun=r"app\s+(?:opens?|sessions?)\b",
    ),
)
KNOWN_EVENTS = ("Order Completed", *(phrase.event for phrase in EVENTS))


# --- fields ----------------------------------------------------------------------------------------------------

# Extra names for catalog features, besides each feature's own name and label.
FIELD_SYNONYMS = {
    "total_spend": ("total spend", "total spent", "total spending", "lifetime spend", "lifetime value", "ltv",
                    "clv", "customer lifetime value", "total revenue", "revenue", "spend", "spending",
                    "total purchases value"),
    "order_count": ("order count", "number of orders", "orders count", "total orders", "no. of orders",
                    "# of orders", "total number of orders", "purchase count", "number of purchases"),
    "average_order_value": ("average order value", "avg order value", "avg. order value", "average order",
                            "aov", "average basket", "average basket size", "basket size", "average basket value",
                            "average spend per order", "avg order"),
    "last_order_at": ("last ordered", "last purchased", "last purchase", "last bought", "last shopped",
                      "latest order", "latest purchase", "most recent order", "most recent purchase",
                      "last order date", "last transaction"),
    "first_order_at": ("first ordered", "first purchased", "first purchase", "first bought", "first order date"),
    "signed_up_at": ("signed up", "joined", "registered", "sign-up date", "signup date", "signup", "sign up",
                     "created their account", "created an account", "became a customer", "became customers",
                     "new customers who signed up", "new customers who joined", "new users who signed up",
                     "new users who joined", "new sign-ups", "new signups", "new customers", "new users",
                     "new members"),
    "days_since_last_order": ("days since last order", "days since their last order", "days since last purchase",
                              "recency"),
    "signup_age_days": ("days since sign-up", "days since signup", "account age", "signup age", "tenure"),
    "first_name": ("first name", "given name", "name"),
    "last_name": ("last name", "surname", "family name"),
    "email": ("email address", "e-mail address", "email", "e-mail"),
    "phone": ("phone number", "mobile number", "phone", "mobile", "cell number"),
    "timezone": ("time zone", "timezone", "tz"),
    "external_id": ("external id", "external_id"),
}  # fmt: skip

# Spend and order counts over the windows the catalog computes.
WINDOW_FIELDS = {"total_spend": "spend_{}d", "order_count": "orders_{}d"}
FEATURE_WINDOWS = (30, 90, 365)

# Words that carry no condition: who the sentence is about, and glue.
FILLER = re.compile(
    r"(?:show\s+me|give\s+me|find\s+me|get\s+me|find|show|list|get|select|target|segment\s+of|audience\s+of|"
    r"customers?|users?|people|persons?|shoppers|clients?|members|contacts|folks|individuals|accounts|everyone|"
    r"anyone|somebody|those|these|them|ones|all|any|who(?:'ve|'re)?|whom|whose|which|that|with|having|"
    r"have|has|had|are|is|were|was|be|been|the|of|our|my|me|please|also|either|both|did|do|does|ever|"
    r"currently|still|already|an?)\b|:",
    FLAGS,
)
# Words that turn what follows around: "not in Pune", "never opened", "haven't ordered". The exclusions
# ("excluding ...", "except ...") take the following customers out: everyone else stays, even those
# with no value, so they become a `not` group rather than an opposite operator.
NEGATION = re.compile(
    r"(?P<exclusion>excluding|exclude|except(?:\s+for)?|other\s+than|apart\s+from|but\s+not|and\s+not)\b|"
    r"(?:not|never|haven'?t|hasn'?t|have\s+not|has\s+not|hadn'?t|had\s+not|didn'?t|did\s+not|don'?t|do\s+not|"
    r"doesn'?t|does\s+not|aren'?t|are\s+not|isn'?t|is\s+not|weren'?t|no\s+longer|without|no|zero)\b",
    FLAGS,
)
