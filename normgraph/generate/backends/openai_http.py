"""Any OpenAI-compatible chat-completions endpoint: vLLM, TGI, Ollama, the llama.cpp server, ``transformers
serve``. The one module of the generator that imports httpx.

Failures are told apart, because they call for different fixes: a refused connection or a 5xx/429 is retried
(``NORMGRAPH_GENERATOR_RETRIES``, short back-off) and then answers 503 ``generator_unavailable`` naming the
URL; an endpoint that accepts the request but does not answer within ``NORMGRAPH_GENERATOR_TIMEOUT`` is not
retried (it is busy, and a retry doubles the wait) and answers 504 ``generator_timeout``; a 4xx (unknown
model, bad request) is not retried and says what the endpoint said.

Servers differ on ``n``: vLLM honours it, ``transformers serve`` and the llama.cpp server return one choice.
Missing choices are asked for one at a time, each with the next seed, so ``n`` always means ``n``.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import httpx

from normgraph.errors import GeneratorTimeout, GeneratorUnavailable
from normgraph.generate.backends.base import ChatMessage, Completion, DecodingParams

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_BACKOFF_SECONDS = 0.25
_CONNECT_TIMEOUT = 5.0


def normalise_base_url(base_url: str) -> str:
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise GeneratorUnavailable(
            f"generator base URL {base_url!r} must start with http:// or https:// (NORMGRAPH_GENERATOR_BASE_URL)",
            {"base_url": base_url},
        )
    # Users paste the server's root as often as its /v1; both mean the same endpoint.
    return url if url.rsplit("/", 1)[-1].startswith("v") and url.count("/") > 2 else url + "/v1"


class OpenAIBackend:
    name = "openai"
    supports_scoring = False

    def __init__(
        self, base_url: str, model: str, *, timeout: float = 60.0, retries: int = 2, api_key: str | None = None
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self.model = model
        self.retries = retries
        self.timeout = timeout
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(_CONNECT_TIMEOUT, timeout)),
            headers=headers,
        )

    @property
    def model_id(self) -> str:
        return f"{self.model}@{self.base_url}"

    def generate(self, messages: Sequence[ChatMessage], params: DecodingParams, n: int = 1) -> list[Completion]:
        out: list[Completion] = []
        while len(out) < n:
            out.extend(self._chat(messages, params.with_seed(params.seed + len(out)), n - len(out)))
        return out[:n]

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        raise GeneratorUnavailable(
            "the openai generator backend cannot score continuations (chat endpoints return no prompt "
            "log-probabilities); use the transformers backend"
        )

    def close(self) -> None:
        self._client.close()

    # --- internals ----------------------------------------------------------------------------------------------
    def _chat(self, messages: Sequence[ChatMessage], params: DecodingParams, n: int) -> list[Completion]:
        body = {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
            "n": n,
        }
        started = time.perf_counter()
        data = self._post("/chat/completions", body)
        seconds = round(time.perf_counter() - started, 4)
        try:
            usage = data.get("usage") or {}
            choices = data["choices"]
            texts = [(c["message"]["content"] or "", c.get("finish_reason")) for c in choices]
        except (KeyError, TypeError, AttributeError):
            raise GeneratorUnavailable(
                f"the generator endpoint {self.base_url} did not answer with a chat completion", {"base_url": self.base_url}
            ) from None
        if not texts:
            raise GeneratorUnavailable(f"the generator endpoint {self.base_url} returned no choices")
        per_choice = int(usage.get("completion_tokens") or 0) // len(texts)
        return [
            Completion(
                text=text.strip(),
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=per_choice,
                finish_reason=reason,
                seconds=seconds,
            )
            for text, reason in texts
        ]

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        where = f"{self.base_url}{path}"
        details = {"base_url": self.base_url, "model": self.model}
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                resp = self._client.post(path, json=body)
            except httpx.ConnectTimeout:
                problem = "did not accept a connection in time"
            except httpx.TimeoutException:
                raise GeneratorTimeout(
                    f"the generator endpoint {where} did not answer within {self.timeout:g} s "
                    "(NORMGRAPH_GENERATOR_TIMEOUT)",
                    {**details, "timeout": self.timeout},
                ) from None
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as e:
                problem = f"is not reachable ({e})"
            else:
                if resp.status_code < 400:
                    try:
                        data = resp.json()
                    except ValueError:
                        raise GeneratorUnavailable(f"the generator endpoint {where} answered with no JSON", details) from None
                    if not isinstance(data, dict):
                        raise GeneratorUnavailable(f"the generator endpoint {where} answered with no JSON object", details)
                    return data
                said = _error_text(resp)
                if resp.status_code not in _RETRY_STATUS:
                    raise GeneratorUnavailable(
                        f"the generator endpoint {where} refused the request: HTTP {resp.status_code}: {said}",
                        {**details, "status": resp.status_code},
                    )
                problem = f"answered HTTP {resp.status_code}: {said}"
            if last:
                raise GeneratorUnavailable(
                    f"the generator endpoint {where} {problem} (after {self.retries + 1} attempts; "
                    "NORMGRAPH_GENERATOR_BASE_URL)",
                    details,
                )
            time.sleep(_BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")


def _error_text(resp: httpx.Response) -> str:
    try:
        data = resp.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        text = err.get("message", err) if isinstance(err, dict) else err
    except ValueError:
        text = resp.text
    return " ".join(str(text).split())[:300] or resp.reason_phrase
