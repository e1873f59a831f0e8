"""The error hierarchy. Every error the library raises on purpose is a ``NormgraphError``.

The API maps each class to one HTTP status and the one JSON error shape; the CLI maps them to exit codes.
"""

from __future__ import annotations

from typing import Any


class NormgraphError(Exception):
    code = "normgraph_error"
    http_status = 500

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(NormgraphError):
    code = "invalid_input"
    http_status = 422


class ConstraintSyntaxError(InvalidInput):
    """A constraint string that does not follow the NormBank grammar."""

    code = "constraint_syntax"


class IncompatibleConstraints(InvalidInput):
    """Two constraints that cannot hold together, e.g. gender is 'man' AND gender is 'woman'."""

    code = "incompatible_constraints"


class NotFound(NormgraphError):
    code = "not_found"
    http_status = 404


class StoreError(NormgraphError):
    code = "store_error"
    http_status = 503


class StoreLocked(StoreError):
    """The on-disk store is held by another process (e.g. a running server while ingesting)."""

    code = "store_locked"


class IndexMissing(NormgraphError):
    """No retrieval index has been built for this bank."""

    code = "index_missing"
    http_status = 503


class IndexOutOfDate(NormgraphError):
    """The index does not match the store (or the configured embedding model)."""

    code = "index_out_of_date"
    http_status = 503


class RetrievalUnavailable(NormgraphError):
    """Retrieval cannot run here: the ``retrieval`` extra is not installed, or the configured embedding model
    cannot be loaded. A server-side condition, hence 503."""

    code = "retrieval_unavailable"
    http_status = 503


class IngestError(NormgraphError):
    """A whole input cannot be read (missing file, missing columns); row errors are rejects, not this."""

    code = "ingest_error"
    http_status = 422


class GeneratorUnavailable(NormgraphError):
    """The generator cannot run: an unknown backend, a model that cannot be found or loaded, the generation
    extra not installed, or an OpenAI-compatible endpoint that is down or answers with an error. A condition of
    the server's configuration or of the endpoint behind it, not of the caller's request, hence 503."""

    code = "generator_unavailable"
    http_status = 503


class GeneratorTimeout(GeneratorUnavailable):
    """The OpenAI-compatible endpoint did not answer within ``NORMGRAPH_GENERATOR_TIMEOUT`` seconds."""

    code = "generator_timeout"
    http_status = 504
