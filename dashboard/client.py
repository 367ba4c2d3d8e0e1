"""The dashboard's only way to the data: the API over HTTP, as the signed-in user.

`ApiClient` holds the user's tokens, refreshes the access token shortly before it expires (and once more
when the API answers 401), and turns every refusal into an `ApiError` whose `message` a person can read.
Pages never talk to the database or a vendor, nor name the API's addresses: they call one method per operation,
which answers with the types of `dashboard.api_types`. It knows nothing of Streamlit, so one instance lives in
each browser session's state.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import httpx
import orjson

from dashboard.api_types import (
    AiJob,
    AuditEntry,
    Campaign,
    CampaignForm,
    CampaignMove,
    CampaignPreview,
    CreatedKey,
    CustomerProfile,
    CustomerSearchPage,
    DeadLetter,
    Engagement,
    Erasure,
    Explanation,
    FeatureCatalog,
    FeatureValues,
    FollowUp,
    MessagesAsked,
    MessagesPage,
    MessageSuggestions,
    PipelinesStatus,
    PreviewAsked,
    RetryableFailures,
    RuleSuggestion,
    Segment,
    SegmentForm,
    SegmentPreview,
    SendTime,
    SizeHistory,
    Timeline,
    TokenPair,
    User,
    WriteKey,
)

ROLES = ("viewer", "analyst", "marketer", "admin")
REFRESH_MARGIN_S = 60  # refresh the access token when it has less than this left


class ApiError(Exception):
    """The API refused (or could not be reached); `message` says why in words, `problems` lists rule problems."""

    def __init__(self, status: int | None, error: str, detail: Any) -> None:
        self.status = status
        self.error = error
        self.detail = detail
        super().__init__(self.message)

    @property
    def problems(self) -> list[dict[str, Any]]:
        """Each problem of an invalid rule, template or request (`path`/`loc`, `field` or `part`, `line`, `column`;
        `message`), if the detail lists them."""
        if isinstance(self.detail, list):
            return [item for item in self.detail if isinstance(item, dict)]
        if isinstance(self.detail, dict) and isinstance(self.detail.get("problems"), list):
            return [{"message": str(item)} for item in self.detail["problems"]]
        return []

    @property
    def message(self) -> str:
        return f"{_STATUS_WORDS.get(self.status or 0, 'The API refused')}: {_detail_text(self.detail)}"


_STATUS_WORDS = {
    0: "Cannot reach the API",
    400: "The request cannot be followed",
    401: "You are not signed in",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible right now",
    413: "Too large",
    422: "Please check the input",
    429: "Too many requests; wait a moment and try again",
    500: "The API failed",
    503: "A service the API needs is unavailable",
}


def _detail_text(detail: Any) -> str:
    if detail is None:
        return "no detail given"
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(_problem_text(item) for item in detail) or "no detail given"
    if isinstance(detail, dict):
        words = detail.get("message") or detail.get("detail")
        if isinstance(detail.get("problems"), list):
            return f"{words or 'invalid'}: " + "; ".join(map(str, detail["problems"]))
        if words:
            return str(words)
    return orjson.dumps(detail).decode()


def _problem_text(problem: Any) -> str:
    if not isinstance(problem, dict):
        return str(problem)
    if problem.get("line") is not None:
        return f"{_template_place(problem)}: {problem.get('message')}"
    where = problem.get("path") if problem.get("path") is not None else problem.get("loc")
    field = problem.get("field")
    prefix = ": ".join(str(part) for part in (where, field) if part)
    return f"{prefix}: {problem.get('message')}" if prefix else str(problem.get("message"))


def _template_place(problem: dict[str, Any]) -> str:
    """Where in a campaign's templates a problem is: "message, line 2, column 7" (or "subject, ...")."""
    part = _TEMPLATE_PARTS.get(str(problem.get("part")), str(problem.get("part") or "template"))
    column = f", column {problem['column']}" if problem.get("column") is not None else ""
    return f"{part}, line {problem['line']}{column}"


_TEMPLATE_PARTS = {"template": "message", "subject": "subject", "html_template": "HTML"}


@dataclass
class Session:
    """The signed-in user's tokens (the access token's expiry on this process's monotonic clock)."""

    access_token: str
    refresh_token: str
    access_expires_at: float
    user: User


class ApiClient:
    """The API as one signed-in user (or nobody yet). Safe to share between the threads of one session."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)
        self._session: Session | None = None
        self._refreshing = threading.Lock()

    # --- who is signed in ---

    @property
    def signed_in(self) -> bool:
        return self._session is not None

    @property
    def user(self) -> User:
        """Who is signed in (an `ApiError` 401 when nobody is)."""
        if self._session is None:
            raise ApiError(401, "unauthorized", "sign in first")
        return self._session.user

    @property
    def role(self) -> str | None:
        return self._session.user["role"] if self._session else None

    @property
    def session_key(self) -> str:
        """A digest of the access token: names this signed-in session (a cache's key) without holding the token."""
        return hashlib.sha256(self._session.access_token.encode()).hexdigest() if self._session else ""

    def may(self, role: str) -> bool:
        """Whether the user's role is `role` or a higher one (viewer < analyst < marketer < admin)."""
        return self.role is not None and ROLES.index(self.role) >= ROLES.index(role)

    # --- signing in and out ---

    def dev_sign_in(self, email: str, role: str, name: str | None = None) -> User:
        """The developer sign-in (only while the API has it switched on, on loopback)."""
        body = {"email": email, "role": role, **({"name": name} if name else {})}
        return self._start(self._public("/v1/auth/dev-login", body))

    def exchange_id_token(self, id_token: str) -> User:
        """Trade the OpenID provider's ID token (from Streamlit's `st.login`) for our tokens."""
        return self._start(self._public("/v1/auth/token-exchange", {"id_token": id_token}))

    def resume(self, refresh_token: str) -> User:
        """Carry on a session from a refresh token kept elsewhere (the browser's cookie), spending it."""
        return self._start(self._public("/v1/auth/refresh", {"refresh_token": refresh_token}))

    def browser_refresh_token(self) -> tuple[str, int]:
        """A second refresh token of this session (and its lifetime in seconds), for the browser to keep."""
        answer = self._post("/v1/auth/browser-token")
        return str(answer["refresh_token"]), int(answer["expires_in"])

    def sign_out(self) -> None:
        """End the session at the API (best effort) and forget the tokens."""
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(ApiError):
                self._public("/v1/auth/logout", {"refresh_token": session.refresh_token})

    def _start(self, pair: TokenPair) -> User:
        self._session = Session(
            access_token=pair["access_token"],
            refresh_token=pair["refresh_token"],
            access_expires_at=time.monotonic() + float(pair["expires_in"]),
            user=pair["user"],
        )
        return pair["user"].copy()

    def _refresh(self, stale: Session) -> None:
        """Trade the refresh token for a new pair, once even when threads ask together (it works only once)."""
        with self._refreshing:
            if self._session is not stale:
                return
            try:
                self._start(self._public("/v1/auth/refresh", {"refresh_token": stale.refresh_token}))
            except ApiError as error:
                self._session = None
                if error.status in (400, 401, 422):
                    raise ApiError(401, "session_ended", "your session has ended; sign in again") from None
                raise

    def _access_token(self) -> str:
        session = self._session
        if session is None:
            raise ApiError(401, "unauthorized", "sign in first")
        if session.access_expires_at - time.monotonic() < REFRESH_MARGIN_S:
            self._refresh(session)
            session = self._session
            assert session is not None
        return session.access_token

    # --- pipelines ---

    def pipelines_status(self) -> PipelinesStatus:
        return cast(PipelinesStatus, self._get("/v1/pipelines/status"))

    def dead_letters(self, include_replayed: bool) -> list[DeadLetter]:
        return cast(list[DeadLetter], self._get("/v1/pipelines/dead-letters", include_replayed=include_replayed))

    def replay_dead_letters(self, ids: list[int]) -> list[int]:
        """Put these dead letters back on the ingest stream; the ids replayed."""
        return [int(id_) for id_ in self._post("/v1/pipelines/dead-letters/replay", {"ids": ids})["replayed"]]

    # --- campaigns ---

    def campaigns(self, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Campaign]:
        """Campaigns, newest first (only those in `status`, if given)."""
        return cast(list[Campaign], self._get("/v1/campaigns", status=status, limit=limit, offset=offset))

    def campaign(self, campaign_id: int) -> Campaign:
        return cast(Campaign, self._get(f"/v1/campaigns/{campaign_id}"))

    def create_campaign(self, form: CampaignForm) -> Campaign:
        return cast(Campaign, self._post("/v1/campaigns", form))

    def change_campaign(self, campaign_id: int, form: CampaignForm) -> Campaign:
        return cast(Campaign, self._patch(f"/v1/campaigns/{campaign_id}", form))

    def delete_campaign(self, campaign_id: int) -> None:
        self._delete(f"/v1/campaigns/{campaign_id}")

    def schedule_campaign(self, campaign_id: int, at: datetime | None) -> Campaign:
        """Launch the draft at `at` (a time with its zone), or now."""
        body = {"at": at.isoformat() if at else None}
        return cast(Campaign, self._post(f"/v1/campaigns/{campaign_id}/schedule", body))

    def move_campaign(self, campaign_id: int, move: CampaignMove) -> Campaign:
        """Pause, resume, cancel, unschedule or relaunch the campaign."""
        return cast(Campaign, self._post(f"/v1/campaigns/{campaign_id}/{move}"))

    def preview_campaign(self, asked: PreviewAsked, sample_size: int) -> CampaignPreview:
        """The audience's size now and the message as its first `sample_size` members would get it."""
        return cast(CampaignPreview, self._post("/v1/campaigns/preview", {**asked, "sample_size": sample_size}))

    def next_launch_time(self, hour: int, zone: str) -> datetime:
        """The next time it is `hour`:00 in `zone`, with that zone's offset."""
        return datetime.fromisoformat(self._get("/v1/campaigns/next-launch-time", hour=hour, zone=zone)["at"])

    def campaign_timeline(self, campaign_id: int, bucket_s: int) -> Timeline:
        return cast(Timeline, self._get(f"/v1/campaigns/{campaign_id}/timeline", bucket_s=bucket_s))

    def campaign_messages(
        self,
        campaign_id: int,
        *,
        status: str | None,
        customer_id: int | None,
        reason: str | None,
        cursor: int | None,
        limit: int,
    ) -> MessagesPage:
        """A page of the campaign's communication log, filtered."""
        return cast(
            MessagesPage,
            self._get(
                f"/v1/campaigns/{campaign_id}/messages",
                status=status,
                customer_id=customer_id,
                reason=reason,
                cursor=cursor,
                limit=limit,
            ),
        )

    def retryable_failures(self, campaign_id: int) -> RetryableFailures:
        """What "retry the failed" would send again, and what it would leave out (by reason)."""
        return cast(RetryableFailures, self._get(f"/v1/campaigns/{campaign_id}/retry-failed"))

    def retry_failed(self, campaign_id: int) -> FollowUp:
        """Make and launch the follow-up campaign to the failed that can succeed."""
        return cast(FollowUp, self._post(f"/v1/campaigns/{campaign_id}/retry-failed"))

    def engagement(self, campaign_ids: list[int]) -> list[Engagement]:
        """Opens, clicks, conversions and revenue of each campaign asked about."""
        return cast(list[Engagement], self._get("/v1/engagement/campaigns", campaign_id=campaign_ids))

    # --- segments ---

    def feature_catalog(self) -> FeatureCatalog:
        """The features a rule may test (the current snapshot's, with its traits)."""
        return cast(FeatureCatalog, self._get("/v1/features"))

    def feature_values(self, name: str, limit: int) -> FeatureValues:
        """A category's `limit` most common values in the current snapshot, most customers first."""
        return cast(FeatureValues, self._get(f"/v1/features/{name}/values", limit=limit))

    def segments(self) -> list[Segment]:
        return cast(list[Segment], self._get("/v1/segments"))

    def create_segment(self, form: SegmentForm) -> Segment:
        return cast(Segment, self._post("/v1/segments", form))

    def change_segment(self, segment_id: int, form: SegmentForm) -> Segment:
        return cast(Segment, self._patch(f"/v1/segments/{segment_id}", form))

    def delete_segment(self, segment_id: int) -> None:
        self._delete(f"/v1/segments/{segment_id}")

    def preview_segment(self, rule: dict[str, Any], sample_size: int, channel: str | None) -> SegmentPreview:
        """Who an unsaved rule matches now (and, given a channel, whom a campaign on it would reach)."""
        body = {"rule": rule, "sample_size": sample_size, "channel": channel}
        return cast(SegmentPreview, self._post("/v1/segments/preview", body))

    def segment_sizes(self, segment_id: int) -> SizeHistory:
        """The saved segment's size at each feature snapshot since it was saved."""
        return cast(SizeHistory, self._get(f"/v1/segments/{segment_id}/sizes"))

    def export_segment(self, segment_id: int) -> bytes:
        """Every member's features on the current snapshot, as CSV."""
        return self._download(f"/v1/segments/{segment_id}/export", format="csv")

    def explain(self, segment_id: int, customer_id: int) -> Explanation:
        """Why the customer is or is not in the segment, node by node of its rule."""
        return cast(Explanation, self._get(f"/v1/segments/{segment_id}/explain/{customer_id}"))

    # --- customers ---

    def customers(self, query: str | None, limit: int) -> CustomerSearchPage:
        """Customers whose name, e-mail, phone or external id starts with `query` (everyone without one)."""
        return cast(CustomerSearchPage, self._get("/v1/customers", q=query, limit=limit))

    def customer(self, customer_id: int) -> CustomerProfile:
        return cast(CustomerProfile, self._get(f"/v1/customers/{customer_id}"))

    def erase_customer(self, customer_id: int) -> Erasure:
        return cast(Erasure, self._post(f"/v1/customers/{customer_id}/erase"))

    def export_customer(self, customer_id: int) -> bytes:
        """Everything held about the customer, as JSON."""
        return self._download(f"/v1/customers/{customer_id}/export")

    # --- AI ---

    def draft_rule(self, text: str) -> RuleSuggestion:
        """A segment rule drafted from a description of customers in plain language."""
        return cast(RuleSuggestion, self._post("/v1/ai/segment-rule", {"text": text}))

    def suggest_messages(self, asked: MessagesAsked) -> MessageSuggestions:
        return cast(MessageSuggestions, self._post("/v1/ai/messages", asked))

    def rate_ai_call(self, call_id: int, accepted: bool, comment: str) -> None:
        """Tell the AI's call log whether what it answered was used."""
        self._post(f"/v1/ai/calls/{call_id}/feedback", {"accepted": accepted, "comment": comment})

    def send_time(self, campaign_id: int) -> SendTime:
        """The saved campaign's best send hour, with the evidence."""
        return cast(SendTime, self._get(f"/v1/ai/campaigns/{campaign_id}/send-time"))

    def ask_for_insights(self, campaign_id: int) -> AiJob:
        """Start the AI reading the campaign; follow the job with `ai_job`."""
        return cast(AiJob, self._post(f"/v1/ai/campaigns/{campaign_id}/insights"))

    def ai_job(self, job_id: str) -> AiJob:
        return cast(AiJob, self._get(f"/v1/ai/jobs/{job_id}"))

    # --- admin ---

    def users(self) -> list[User]:
        return cast(list[User], self._get("/v1/admin/users"))

    def add_user(self, email: str, role: str, name: str | None) -> User:
        """Let someone in with `role` before their first sign-in."""
        body = {"email": email, "role": role, **({"name": name} if name else {})}
        return cast(User, self._post("/v1/admin/users", body))

    def change_user(self, user_id: int, role: str, disabled: bool) -> User:
        return cast(User, self._patch(f"/v1/admin/users/{user_id}", {"role": role, "disabled": disabled}))

    def write_keys(self) -> list[WriteKey]:
        return cast(list[WriteKey], self._get("/v1/admin/keys"))

    def create_write_key(self, name: str) -> CreatedKey:
        """A new write key, with its secret (shown this once)."""
        return cast(CreatedKey, self._post("/v1/admin/keys", {"name": name}))

    def revoke_write_key(self, key_id: int) -> WriteKey:
        return cast(WriteKey, self._post(f"/v1/admin/keys/{key_id}/revoke"))

    def audit(self, limit: int, action: str | None, before_id: int | None) -> list[AuditEntry]:
        """The newest audit entries (older than `before_id`, of `action`, if given)."""
        return cast(list[AuditEntry], self._get("/v1/admin/audit", limit=limit, action=action, before_id=before_id))

    # --- calls: what the operations above are made of ---

    def _get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params=params)

    def _post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self._call("POST", path, json=body, params=params)

    def _patch(self, path: str, body: Any) -> Any:
        return self._call("PATCH", path, json=body)

    def _delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def _download(self, path: str, **params: Any) -> bytes:
        """A file the API streams (an export), as bytes."""
        response = self._authorized("GET", path, params=_present(params))
        return response.content

    def _call(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self._authorized(method, path, json=json, params=_present(params or {}))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _authorized(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        session = self._session
        response = self._request(method, path, self._access_token(), **kwargs)
        if response.status_code == 401 and session is not None and self._session is session:
            self._refresh(session)
            response = self._request(method, path, self._access_token(), **kwargs)
        if response.status_code >= 400:
            raise _refusal(response)
        return response

    def _request(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except httpx.TransportError as error:
            raise ApiError(None, "unreachable", f"{self.base_url}: {error}") from None

    def _public(self, path: str, body: dict[str, Any]) -> Any:
        """POST to a route whose credential is in the body (sign-in, refresh, sign-out)."""
        try:
            response = self._http.post(path, json=body)
        except httpx.TransportError as error:
            raise ApiError(None, "unreachable", f"{self.base_url}: {error}") from None
        if response.status_code >= 400:
            raise _refusal(response)
        return response.json() if response.content else None


def _present(params: dict[str, Any]) -> dict[str, Any]:
    """Query parameters without the ones left unset."""
    return {name: value for name, value in params.items() if value is not None}


def _refusal(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        return ApiError(response.status_code, "http_error", response.text[:500] or response.reason_phrase)
    if isinstance(body, dict) and "error" in body:
        return ApiError(response.status_code, str(body["error"]), body.get("detail"))
    return ApiError(response.status_code, "http_error", body)
