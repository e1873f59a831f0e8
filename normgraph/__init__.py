"""normgraph: a knowledge-graph norm bank."""

__version__ = "0.1.0"
