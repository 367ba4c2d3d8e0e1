"""What the notification routes answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from engine.notifications.store import Kind, Notification, Severity


class NotificationOut(BaseModel):
    """One notification as the signed-in user sees it."""

    id: int
    kind: Kind
    severity: Severity
    title: str
    body: str
    campaign_id: int | None = Field(description="The campaign it is about, for campaign and delivery notices.")
    detail: dict[str, Any] = Field(description="The figures behind the text (counts, rates, versions).")
    created_at: datetime
    read: bool
    read_at: datetime | None = Field(description="When this user marked it read.")

    @classmethod
    def of(cls, notification: Notification) -> NotificationOut:
        return cls(
            id=notification.id,
            kind=notification.kind,
            severity=notification.severity,
            title=notification.title,
            body=notification.body,
            campaign_id=notification.campaign_id,
            detail=notification.detail,
            created_at=notification.created_at,
            read=notification.read_at is not None,
            read_at=notification.read_at,
        )


class NotificationsPage(BaseModel):
    items: list[NotificationOut] = Field(description="Newest first.")
    unread_count: int = Field(description="All of the user's unread notifications, not only this page's.")
    next_cursor: int | None = Field(description="Pass as `before` for the next page; null on the last page.")


class ReadAllOut(BaseModel):
    marked: int = Field(description="How many were unread and are now read.")
    unread_count: int
