"""What every generator backend offers: chat messages in, completions (with token counts) out, and — where it
is cheap — the log-likelihood of candidate continuations (what a judge scores label verbalisations with)."""

from __future__ import annotations

from typing import Literal, Protocol, Sequence, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

MAX_NEW_TOKENS = 1024
MAX_SEED = 2**31 - 1


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


class DecodingParams(BaseModel):
    """Sampling settings of one generation; recorded in every proposal's provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_new_tokens: int = Field(64, ge=1, le=MAX_NEW_TOKENS)
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="0 decodes greedily")
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    seed: int = Field(0, ge=0, le=MAX_SEED)

    def with_seed(self, seed: int) -> "DecodingParams":
        return self.model_copy(update={"seed": seed % (MAX_SEED + 1)})


class Completion(BaseModel):
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = Field(None, description="stop, length … as the backend reports it")
    seconds: float = Field(description="wall time of the call that produced it (shared by a batch)")


@runtime_checkable
class GeneratorBackend(Protocol):
    name: str
    supports_scoring: bool

    @property
    def model_id(self) -> str:
        """What produced a text, for provenance: model name and where it came from."""

    def generate(self, messages: Sequence[ChatMessage], params: DecodingParams, n: int = 1) -> list[Completion]:
        """``n`` completions of the chat. With ``params.seed`` fixed, the same call gives the same texts where
        the backend can promise it (in process: yes; an endpoint: if it honours ``seed``)."""

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> list[float]:
        """Sum of token log-probabilities of each continuation as the assistant's reply to ``messages``.
        Raises ``GeneratorUnavailable`` where ``supports_scoring`` is false."""

    def close(self) -> None: ...
