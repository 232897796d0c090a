"""Publication: audit the built warehouse (quality gate), then publish it all at once.

`gate_and_publish` is the one entry point the orchestration and `spifeb run` call.
"""

from publication.publish import PublicationResult, gate_and_publish, rollback

__all__ = ["PublicationResult", "gate_and_publish", "rollback"]
