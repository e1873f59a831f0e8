"""The judge (DESIGN §5): is a behaviour expected, okay or unexpected, given caller-supplied norms, the bank's
frames, its nearest statements and the judge's own prior — and which of them decided.

``schemas`` holds the request and response, ``polarity`` reads a norm's wording, ``model`` runs the trained
heads in numpy, ``stages`` the four stages, ``service`` composes them over a bank, ``calibration`` fits
temperatures and measures ECE, ``data`` and ``train`` rebuild the weights from the public data sets.
"""

from normgraph.judge.schemas import JudgeBatchRequest, JudgeBatchResult, JudgeRequest, JudgeResult, SuppliedNorm

__all__ = ["JudgeBatchRequest", "JudgeBatchResult", "JudgeRequest", "JudgeResult", "SuppliedNorm"]
