"""lineage: a provenance graph store for AI-training-data compliance."""

__version__ = "0.1.0"
