"""Instances: the format's schema, safe YAML, loading and checks, overrides, descriptions and
the synthetic generator."""
