"""The bundled example scenario (installed as `lineage.examples`; `lineage demo` runs it)."""
