"""The image provider for a Replicate-compatible predictions API: create a prediction, poll it, fetch the image.

    POST {api}/v1/predictions          {"version": <model>, "input": {"prompt": ..., "width": ..., "height": ...}}
    GET  {api}/v1/predictions/{id}     until "status" is "succeeded" (or "failed" / "canceled")
    GET  <output URL>                  the image, converted here to PNG

The model is `owner/name` or `owner/name:version` (both are accepted as "version" by Replicate). The token
goes only to the API, never to the host that serves the output file. A failure, a refusal or a prediction
that is not done within the timeout is `ProviderUnavailable`, so the caller can draw the offline banner.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any, ClassVar

import httpx
from PIL import Image, UnidentifiedImageError

from engine.ai.errors import ProviderUnavailable
from engine.ai.images.provider import GeneratedImage, ImageRequest
from engine.settings import Settings

MAX_IMAGE_BYTES = 20 * 1024 * 1024
_FINISHED = frozenset({"succeeded", "failed", "canceled"})


class ReplicateImages:
    name: ClassVar[str] = "replicate"

    def __init__(
        self,
        api_url: str,
        token: str,
        model: str,
        *,
        timeout_s: float = 120,
        poll_s: float = 1,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.model = model
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.http = http or httpx.Client(timeout=httpx.Timeout(30.0))
        self.sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> ReplicateImages:
        assert settings.replicate_api_token is not None, "no Replicate token (XENO_REPLICATE_API_TOKEN)"
        assert settings.replicate_model is not None, "no Replicate model (XENO_REPLICATE_MODEL)"
        return cls(
            settings.replicate_api_url,
            settings.replicate_api_token.get_secret_value(),
            settings.replicate_model,
            timeout_s=settings.replicate_timeout_s,
            poll_s=settings.replicate_poll_s,
        )

    def generate(self, request: ImageRequest) -> GeneratedImage:
        deadline = time.monotonic() + self.timeout_s
        prediction = self._api("POST", "/v1/predictions", json={"version": self.model, "input": _input(request)})
        while prediction.get("status") not in _FINISHED:
            if time.monotonic() >= deadline:
                raise ProviderUnavailable(self.name, f"the prediction was not done within {self.timeout_s:g} s")
            self.sleep(self.poll_s)
            prediction = self._api("GET", f"/v1/predictions/{prediction.get('id')}")
        if prediction["status"] != "succeeded":
            raise ProviderUnavailable(self.name, f"the prediction {prediction['status']}: {prediction.get('error')}")
        png, width, height = _as_png(self._download(_output_url(prediction.get("output"))))
        return GeneratedImage(png, width, height, self.name, self.model)

    def _api(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self.http.request(
                method, f"{self.api_url}{path}", json=json, headers={"Authorization": f"Bearer {self.token}"}
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailable(self.name, f"could not reach {self.api_url}: {error}") from None
        if response.status_code >= 400:
            raise ProviderUnavailable(self.name, f"{method} {path} answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise ProviderUnavailable(self.name, f"{method} {path} answered something other than JSON") from None
        if not isinstance(answer, dict) or "id" not in answer:
            raise ProviderUnavailable(self.name, f"{method} {path} answered no prediction")
        return answer

    def _download(self, url: str) -> bytes:
        try:
            with self.http.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise ProviderUnavailable(self.name, f"the image download answered HTTP {response.status_code}")
                content = bytearray()
                for chunk in response.iter_bytes():
                    content += chunk
                    if len(content) > MAX_IMAGE_BYTES:
                        raise ProviderUnavailable(self.name, "the image is larger than 20 MB")
                return bytes(content)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(self.name, f"could not download the image: {error}") from None


def _input(request: ImageRequest) -> dict[str, Any]:
    colors = " and ".join(request.colors)
    words = f"“{request.headline}”" if request.headline else "a sale"
    prompt = (
        f"A {request.style} marketing banner for {request.brand or 'a shop'} about {words}, "
        f"in the brand colours {colors}, with space left for text, no lettering"
    )
    return {"prompt": prompt, "width": request.width, "height": request.height}


def _output_url(output: Any) -> str:
    url = output[0] if isinstance(output, list) and output else output
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ProviderUnavailable(ReplicateImages.name, "the prediction succeeded without an image URL")
    return url


def _as_png(data: bytes) -> tuple[bytes, int, int]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            output = io.BytesIO()
            image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(output, format="PNG")
            return output.getvalue(), image.width, image.height
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ProviderUnavailable(ReplicateImages.name, f"the output is not an image: {error}") from None
