"""`lendgraph seed-demo`: a year of demo marketplace data, made through lending/, and example operations."""

from graph.demo.seed import seed_demo

__all__ = ["seed_demo"]
