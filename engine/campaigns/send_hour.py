"""When a campaign launched "at a suggested send hour" starts: the next such hour in the time zone picked.

The suggested hour (engine.ai.insights.send_time) is in each customer's own time zone, but a campaign launches at
one moment for everyone, so it is scheduled at the next such hour in one zone (best the one most of the audience
lives in); customers elsewhere get it at whatever their clock says then.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.campaigns.errors import CampaignInvalid

# A suggested hour closer than this is taken the next day: the launch needs a moment to prepare, and a time that
# passes while the marketer reads the form would be refused as past.
LEAD = timedelta(minutes=15)


def next_occurrence(hour: int, zone: str, now: datetime | None = None) -> datetime:
    """The next `hour`:00 in `zone` at least `LEAD` from `now`, in that zone.

    A day whose clocks skip that hour (going forward for daylight saving time) has no such time: scheduling it
    would launch at whatever the zone makes of it (03:00 for a skipped 02:00), so that day is passed over."""
    if not 0 <= hour <= 23:
        raise CampaignInvalid(f"an hour of the day is 0 to 23, not {hour}")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignInvalid(f"there is no time zone {zone!r}; use an IANA name such as Europe/Paris") from None
    now = now or datetime.now(UTC)
    day = now.astimezone(tz).date()
    while True:
        candidate = datetime.combine(day, time(hour))
        moment = candidate.replace(tzinfo=tz)
        exists = moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == candidate
        if exists and moment >= now + LEAD:
            return moment
        day += timedelta(days=1)
