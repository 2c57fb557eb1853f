"""Strawberry types of the public contract. Leaf modules: they import only lending and models."""
