"""Stand-ins for the AI services, served by uvicorn on loopback: a chat completions API that answers from a
script (and `model`, the OpenAI-compatible provider talking to one), and a Replicate-compatible predictions
API. Both record what they were sent."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import openai
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from PIL import Image

from engine.ai.openai_compatible import OpenAICompatibleProvider

MODEL = "scripted-model"


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` served on a free loopback port for the duration; its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the loopback server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Answer:
    """One scripted chat completion: JSON content (or raw text), after an optional delay."""

    content: Any = None
    raw: str | None = None
    delay_s: float = 0.0
    status: int = 200


@dataclass
class ScriptedChat:
    """A chat completions API that gives the scripted answers in order and keeps every request body."""

    answers: list[Answer]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()
        script = iter(self.answers)

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> Response:
            self.requests.append(await request.json())
            answer = next(script)
            await asyncio.sleep(answer.delay_s)
            if answer.status != 200:
                return JSONResponse({"error": {"message": "scripted failure", "type": "server_error"}}, answer.status)
            content = answer.raw if answer.raw is not None else json.dumps(answer.content)
            return JSONResponse(
                {
                    "id": f"chatcmpl-{len(self.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": self.requests[-1]["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content, "refusal": None},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                }
            )

        return app


@contextmanager
def model(*answers: Answer, timeout_s: float = 5) -> Iterator[tuple[OpenAICompatibleProvider, ScriptedChat]]:
    """The OpenAI-compatible provider (model `MODEL`) talking to a scripted chat server giving `answers`."""
    chat = ScriptedChat(list(answers))
    with serving(chat.app()) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="test-key", timeout=timeout_s, max_retries=0)
        yield OpenAICompatibleProvider(client, MODEL, timeout_s), chat


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (200, 30, 90), kind: str = "PNG") -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), color).save(output, format=kind)
    return output.getvalue()


@dataclass
class ReplicateStub:
    """Replicate's predictions API: a prediction is "starting", then "processing", then `final_status` with an
    output URL on this same server (a WebP, so the client's conversion to PNG is exercised)."""

    final_status: str = "succeeded"
    polls_until_done: int = 2
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()
        ids = itertools.count(1)
        polls: dict[str, int] = {}

        @app.post("/v1/predictions")
        async def create(request: Request) -> Response:
            body = await request.json()
            self.requests.append(("POST", request.url.path, dict(request.headers), body))
            prediction_id = f"p{next(ids)}"
            polls[prediction_id] = 0
            return JSONResponse({"id": prediction_id, "status": "starting", "output": None}, status_code=201)

        @app.get("/v1/predictions/{prediction_id}")
        async def get(prediction_id: str, request: Request) -> Response:
            self.requests.append(("GET", request.url.path, dict(request.headers), None))
            polls[prediction_id] += 1
            if polls[prediction_id] < self.polls_until_done:
                return JSONResponse({"id": prediction_id, "status": "processing", "output": None})
            if self.final_status != "succeeded":
                return JSONResponse({"id": prediction_id, "status": self.final_status, "error": "NSFW filter"})
            output = [f"{request.base_url}files/{prediction_id}.webp"]
            return JSONResponse({"id": prediction_id, "status": "succeeded", "output": output})

        @app.get("/files/{name}")
        async def file(name: str, request: Request) -> Response:
            self.requests.append(("GET", request.url.path, dict(request.headers), None))
            return Response(png_bytes(640, 360, kind="WEBP"), media_type="image/webp")

        return app
