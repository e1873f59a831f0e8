"""Every way the generator cannot run gives a clear error: an unknown backend or model, an endpoint that is down,
slow or erroring; and bad requests are refused before any model loads.

The misbehaving endpoints are real HTTP servers on 127.0.0.1 (``http.server`` in a thread): a slow or failing
OpenAI-compatible server cannot be had on demand otherwise. They answer with canned bodies and run no model;
the backend is tested against a real model server in test_openai_server.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from normgraph.errors import GeneratorTimeout, GeneratorUnavailable
from normgraph.generate.backends import open_backend
from normgraph.generate.backends.base import ChatMessage, DecodingParams
from normgraph.generate.backends.openai_http import OpenAIBackend, normalise_base_url
from normgraph.settings import Settings
from tests.api.demo_facts import assert_error
from tests.generate.conftest import copy_home

HELLO = [ChatMessage(role="user", content="hello")]
SLOW_SECONDS = 3.0


class _Endpoint(BaseHTTPRequestHandler):
    calls: dict[str, int] = {}

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        kind = self.path.split("/")[1]
        _Endpoint.calls[kind] = _Endpoint.calls.get(kind, 0) + 1
        if kind == "slow":
            time.sleep(SLOW_SECONDS)
            status, body = 200, {"choices": []}
        elif kind == "fail":
            status, body = 500, {"error": {"message": "CUDA out of memory"}}
        elif kind == "missing":
            status, body = 404, {"error": {"message": "model 'nope' not found"}}
        else:
            status, body = 200, {"unexpected": True}
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on return: nothing listens there


# --- the backends themselves -----------------------------------------------------------------------------------


def test_an_unknown_backend_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(GeneratorUnavailable) as e:
        open_backend(Settings(home=tmp_path, generator_backend="llamafile"))
    assert "NORMGRAPH_GENERATOR_BACKEND" in e.value.message and e.value.http_status == 503


@pytest.mark.parametrize("model", ["/no/such/model.gguf", "/no/such/folder", "not a model name"])
def test_a_model_that_does_not_exist_is_refused_before_torch_loads(tmp_path: Path, model: str) -> None:
    with pytest.raises(GeneratorUnavailable) as e:
        open_backend(Settings(home=tmp_path, generator_model=model))
    assert model in e.value.message


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(GeneratorUnavailable, match="config.json"):
        open_backend(Settings(home=tmp_path, generator_model=str(tmp_path / "empty")))


def test_the_openai_backend_needs_a_base_url(tmp_path: Path) -> None:
    with pytest.raises(GeneratorUnavailable, match="NORMGRAPH_GENERATOR_BASE_URL"):
        open_backend(Settings(home=tmp_path, generator_backend="openai"))


def test_base_urls_with_and_without_v1_mean_the_same_endpoint() -> None:
    assert normalise_base_url("http://127.0.0.1:8080") == normalise_base_url("http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080/v1"


def test_an_endpoint_that_is_down_is_retried_then_503() -> None:
    backend = OpenAIBackend(f"http://127.0.0.1:{closed_port()}", "m", retries=1, timeout=2)
    with pytest.raises(GeneratorUnavailable) as e:
        backend.generate(HELLO, DecodingParams())
    assert "not reachable" in e.value.message and "2 attempts" in e.value.message
    assert not isinstance(e.value, GeneratorTimeout)


def test_a_slow_endpoint_times_out_with_504_and_is_not_retried(endpoint: str) -> None:
    backend = OpenAIBackend(f"{endpoint}/slow", "m", retries=2, timeout=0.5)
    before = _Endpoint.calls.get("slow", 0)
    started = time.monotonic()
    with pytest.raises(GeneratorTimeout) as e:
        backend.generate(HELLO, DecodingParams())
    assert time.monotonic() - started < SLOW_SECONDS
    assert e.value.http_status == 504 and "NORMGRAPH_GENERATOR_TIMEOUT" in e.value.message
    assert _Endpoint.calls["slow"] - before == 1


def test_a_5xx_is_retried_and_reported_with_what_the_server_said(endpoint: str) -> None:
    backend = OpenAIBackend(f"{endpoint}/fail", "m", retries=2, timeout=2)
    before = _Endpoint.calls.get("fail", 0)
    with pytest.raises(GeneratorUnavailable, match="CUDA out of memory"):
        backend.generate(HELLO, DecodingParams())
    assert _Endpoint.calls["fail"] - before == 3


def test_a_4xx_is_not_retried(endpoint: str) -> None:
    backend = OpenAIBackend(f"{endpoint}/missing", "nope", retries=2, timeout=2)
    before = _Endpoint.calls.get("missing", 0)
    with pytest.raises(GeneratorUnavailable, match="model 'nope' not found"):
        backend.generate(HELLO, DecodingParams())
    assert _Endpoint.calls["missing"] - before == 1


def test_an_answer_that_is_not_a_chat_completion_is_an_error(endpoint: str) -> None:
    with pytest.raises(GeneratorUnavailable, match="did not answer with a chat completion"):
        OpenAIBackend(f"{endpoint}/odd", "m", timeout=2).generate(HELLO, DecodingParams())


# --- over HTTP: the one error shape ----------------------------------------------------------------------------


def _client(template: Path, tmp_path_factory: pytest.TempPathFactory, name: str, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(home=copy_home(template, tmp_path_factory, name), **settings)))  # type: ignore[arg-type]


FRAME = {"setting": "library", "behavior": "eat food", "facts": ["[PERSON]'s role is 'patron'"], "n": 1}


def test_api_unknown_backend_and_endpoint_down_are_503(indexed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    with _client(indexed_template, tmp_path_factory, "unknown-backend", generator_backend="llamafile") as c:
        err = assert_error(c.post("/v1/generate", json=FRAME), 503, "generator_unavailable")
        assert "NORMGRAPH_GENERATOR_BACKEND" in err["message"]
    down = f"http://127.0.0.1:{closed_port()}/v1"
    with _client(indexed_template, tmp_path_factory, "down", generator_backend="openai", generator_base_url=down, generator_retries=0) as c:
        err = assert_error(c.post("/v1/generate", json=FRAME), 503, "generator_unavailable")
        assert down in err["message"]
        assert_error(c.post("/v1/answer", json={"question": "my phone rings at a funeral"}), 503, "generator_unavailable")


def test_api_slow_endpoint_is_504_and_bad_requests_are_422_before_any_call(
    indexed_template: Path, tmp_path_factory: pytest.TempPathFactory, endpoint: str
) -> None:
    settings = {"generator_backend": "openai", "generator_base_url": f"{endpoint}/slow", "generator_timeout": 0.5}
    with _client(indexed_template, tmp_path_factory, "slow", **settings) as c:
        assert_error(c.post("/v1/generate", json=FRAME), 504, "generator_timeout")
        before = _Endpoint.calls.get("slow", 0)
        assert_error(c.post("/v1/generate", json={**FRAME, "behavior": ""}), 422, "validation_error")
        assert_error(c.post("/v1/generate", json={**FRAME, "behavior": "   "}), 422, "invalid_input")
        assert_error(c.post("/v1/generate", json={**FRAME, "behavior": "x" * 500}), 422, "validation_error")
        assert_error(c.post("/v1/generate", json={**FRAME, "setting": "moon base"}), 404, "not_found")
        assert_error(c.post("/v1/generate", json={**FRAME, "facts": ["patron"]}), 422, "constraint_syntax")
        assert_error(c.post("/v1/generate", json={**FRAME, "n": 0}), 422, "validation_error")
        assert_error(c.post("/v1/answer", json={"question": "q" * 5000}), 422, "validation_error")
        assert_error(c.post("/v1/answer", json={"question": "  "}), 422, "invalid_input")
        assert _Endpoint.calls.get("slow", 0) == before  # none of them reached the endpoint
