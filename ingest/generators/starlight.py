"""starlight: placeholder, filled in by its generator's work."""

from __future__ import annotations

from ingest.generators import Generator

GENERATOR = Generator(name="starlight")
