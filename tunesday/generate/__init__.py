"""Synthetic Tunesday data: a raw dataset that follows tunesday.contract, with a known ground truth.

Listeners have a latent taste (a few clusters of artists within one to three genres, a preferred
tempo and energy, an exploration propensity, an activity level); their plays, skips, follows,
saves and playlists follow from it, so recommendations built on the raw tables can be scored
against DIR/truth. A small share of deliberately broken rows, counted per reason in
DIR/manifest.json, exercises the warehouse's quarantine.

    from tunesday.generate import GeneratorConfig, generate
    manifest = generate(GeneratorConfig(users=300, tracks=2000, days=21, out="target/data"))
"""

from tunesday.generate.config import GeneratorConfig
from tunesday.generate.pipeline import generate

__all__ = ["GeneratorConfig", "generate"]
