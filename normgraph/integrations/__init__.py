"""Adapters to agent frameworks. Each imports its framework, so import the submodule you need
(``normgraph.integrations.langchain`` needs the ``langchain`` extra)."""
