"""Strawberry types of the public contract. Leaf modules: they never import resolvers/ or graph.schema."""
