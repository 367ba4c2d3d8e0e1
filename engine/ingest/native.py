"""Our own batch API's items: customers and orders, identified by the integrator's external ids."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, TypeAdapter

from engine.ingest.records import CustomerRecord, OrderRecord
from engine.postgres_safe import BigInt, storable_time

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
_TIMEZONES = frozenset(available_timezones())


def _phone(value: str) -> str:
    """Keep a leading + and the digits; refuse anything that cannot be a phone number."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if not 7 <= len(digits) <= 15:
        raise ValueError("a phone number has 7 to 15 digits")
    return ("+" if value.strip().startswith("+") else "") + digits


def _timezone(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Asia/Kolkata'")
    return value


Phone = Annotated[str, AfterValidator(_phone)]
TimeZone = Annotated[str, AfterValidator(_timezone)]
Timestamp = Annotated[datetime, AfterValidator(storable_time)]  # without a zone: UTC
OrderStatus = r"^(completed|cancelled|refunded|pending)$"
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True)]


class CustomerIn(BaseModel):
    """A customer as the integrator knows them; unset fields leave what is stored alone."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "cust-1001",
                    "email": "asha@example.com",
                    "phone": "+91 98200 12345",
                    "first_name": "Asha",
                    "last_name": "Rao",
                    "city": "Mumbai",
                    "country": "IN",
                    "timezone": "Asia/Kolkata",
                    "signed_up_at": "2025-03-14T10:00:00Z",
                    "email_consent": True,
                    "sms_consent": False,
                    "attributes": {"plan": "gold", "birthday": "1990-04-02"},
                }
            ]
        },
    )

    external_id: ExternalId
    email: EmailStr | None = None
    phone: Phone | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    city: ShortText | None = None
    country: ShortText | None = None
    timezone: TimeZone | None = None
    signed_up_at: Timestamp | None = None
    email_consent: bool | None = None
    sms_consent: bool | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, description="Any other traits, kept with their types.")
    updated_at: Timestamp | None = Field(
        None, description="When this changed at the source; the newest wins. Defaults to receipt time."
    )

    def to_record(self, received_at: datetime) -> CustomerRecord:
        record: CustomerRecord = {
            "external_id": self.external_id,
            "traits": self.attributes,
            "ts": (self.updated_at or received_at).isoformat(),
        }
        for name in self.model_fields_set - {"external_id", "attributes", "updated_at"}:
            value = getattr(self, name)
            record[name] = value.isoformat() if isinstance(value, datetime) else value  # type: ignore[literal-required]
        return record


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    sku: ShortText | None = None
    name: ShortText | None = None
    quantity: BigInt = Field(1, ge=0)
    price: Decimal | None = Field(None, ge=0)


class OrderIn(BaseModel):
    """An order of a customer; sending the same `external_id` again updates it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "ord-5001",
                    "customer_external_id": "cust-1001",
                    "amount": "2499.00",
                    "currency": "INR",
                    "status": "completed",
                    "items": [{"sku": "TSHIRT-M", "name": "T-shirt", "quantity": 2, "price": "1249.50"}],
                    "ordered_at": "2026-11-20T18:30:00+05:30",
                }
            ]
        },
    )

    external_id: ExternalId
    customer_external_id: ExternalId
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: Currency
    status: Annotated[str, StringConstraints(pattern=OrderStatus)] = "completed"
    items: list[OrderItem] = Field(default_factory=list, max_length=500)
    ordered_at: Timestamp
    updated_at: Timestamp | None = None

    def to_record(self, received_at: datetime) -> OrderRecord:
        return {
            "external_id": self.external_id,
            "customer_external_id": self.customer_external_id,
            "amount": str(self.amount),
            "currency": self.currency,
            "status": self.status,
            "items": [item.model_dump(mode="json", exclude_none=True) for item in self.items],
            "ordered_at": self.ordered_at.isoformat(),
            "ts": (self.updated_at or received_at).isoformat(),
        }


customer_adapter = TypeAdapter(CustomerIn)
order_adapter = TypeAdapter(OrderIn)
