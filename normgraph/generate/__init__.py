"""The generator (DESIGN §5): proposes norms for a frame and answers questions from retrieved bank context.

- ``backends/``: one small protocol (``GeneratorBackend``) and two implementations, in-process ``transformers``
  and any OpenAI-compatible HTTP endpoint; ``open_backend`` picks one from the settings.
- ``prompts``: the versioned prompt templates (their name@version goes into every proposal's provenance).
- ``parse``: model output -> a grammar-valid proposal, repaired where that is safe, or the reason it is not.
- ``dedup``: a proposal against the bank, by embedding similarity with the retrieval index.
- ``generate``: the whole proposal pipeline; ``answer``: context-conditioned answers with checked citations.
- ``service``: the one generator of a ``NormBankService``.

Nothing here imports torch, transformers or httpx at import time: each is imported by its backend module when
that backend is opened.
"""
