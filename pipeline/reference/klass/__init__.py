"""SSB's KLASS classification service: the client, and the script that derives the reference seeds."""

from pipeline.reference.klass.client import KlassChange, KlassClient, KlassCode, KlassError

__all__ = ["KlassChange", "KlassClient", "KlassCode", "KlassError"]
