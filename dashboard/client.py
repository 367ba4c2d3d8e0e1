"""The dashboard's only way to the data: the API over HTTP, as the signed-in user.

`ApiClient` holds the user's tokens, refreshes the access token shortly before it expires (and once more
when the API answers 401), and turns every refusal into an `ApiError` whose `message` a person can read.
Pages never talk to the database or a vendor; they call this. It knows nothing of Streamlit, so one
instance lives in each browser session's state.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

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
    user: dict[str, Any]


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
    def user(self) -> dict[str, Any]:
        return self._session.user if self._session else {}

    @property
    def role(self) -> str | None:
        return self._session.user.get("role") if self._session else None

    @property
    def session_key(self) -> str:
        """A digest of the access token: names this signed-in session (a cache's key) without holding the token."""
        return hashlib.sha256(self._session.access_token.encode()).hexdigest() if self._session else ""

    def may(self, role: str) -> bool:
        """Whether the user's role is `role` or a higher one (viewer < analyst < marketer < admin)."""
        return self.role is not None and ROLES.index(self.role) >= ROLES.index(role)

    # --- signing in and out ---

    def dev_sign_in(self, email: str, role: str, name: str | None = None) -> dict[str, Any]:
        """The developer sign-in (only while the API has it switched on, on loopback)."""
        body = {"email": email, "role": role, **({"name": name} if name else {})}
        return self._start(self._public("/v1/auth/dev-login", body))

    def exchange_id_token(self, id_token: str) -> dict[str, Any]:
        """Trade the OpenID provider's ID token (from Streamlit's `st.login`) for our tokens."""
        return self._start(self._public("/v1/auth/token-exchange", {"id_token": id_token}))

    def resume(self, refresh_token: str) -> dict[str, Any]:
        """Carry on a session from a refresh token kept elsewhere (the browser's cookie), spending it."""
        return self._start(self._public("/v1/auth/refresh", {"refresh_token": refresh_token}))

    def browser_refresh_token(self) -> tuple[str, int]:
        """A second refresh token of this session (and its lifetime in seconds), for the browser to keep."""
        answer = self.post("/v1/auth/browser-token")
        return str(answer["refresh_token"]), int(answer["expires_in"])

    def sign_out(self) -> None:
        """End the session at the API (best effort) and forget the tokens."""
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(ApiError):
                self._public("/v1/auth/logout", {"refresh_token": session.refresh_token})

    def _start(self, pair: dict[str, Any]) -> dict[str, Any]:
        self._session = Session(
            access_token=pair["access_token"],
            refresh_token=pair["refresh_token"],
            access_expires_at=time.monotonic() + float(pair["expires_in"]),
            user=pair["user"],
        )
        return dict(pair["user"])

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

    # --- calls ---

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self._call("POST", path, json=body, params=params)

    def patch(self, path: str, body: Any) -> Any:
        return self._call("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def download(self, path: str, **params: Any) -> bytes:
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
