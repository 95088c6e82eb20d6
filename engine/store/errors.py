"""Typed domain errors: a machine-readable ``code``, a Chinese ``message`` and details.

They say nothing of HTTP; the API maps each class to a status.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class InvalidTrigger(DomainError):
    """The trigger does not leave the target's current state; ``allowed_triggers`` lists those that do."""

    code = "invalid_trigger"


class StaleVersion(DomainError):
    """The caller's view of the target is out of date (someone else changed it first)."""

    code = "stale_version"


class Forbidden(DomainError):
    """The actor's role (``code`` ``role_forbidden``) or scope (``out_of_scope``) does not allow it."""

    code = "forbidden"

    def __init__(self, message: str, *, code: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code


class InvalidPayload(DomainError):
    """Required fields are missing or of the wrong type; ``errors`` lists each (field, reason)."""

    code = "invalid_payload"


class GuardFailed(DomainError):
    """A named guard of the transition refused it; ``guard`` names it."""

    code = "guard_failed"


class Duplicate(DomainError):
    """Something with the same identity exists already (e.g. a target code within a plan)."""

    code = "duplicate"


class BackupRefused(DomainError):
    """A backup cannot be taken or restored as asked (a missing tool, a newer schema, a database with data …)."""

    code = "backup_refused"


class TooLarge(DomainError):
    """A file or request is over a stated size limit (``limit`` names it); refused before it is read."""

    code = "too_large"


class LimitExceeded(DomainError):
    """Reading a file took more CPU time or memory than allowed (``limit`` names the limits)."""

    code = "limit_exceeded"


class EvidenceTampered(DomainError):
    """A stored evidence file no longer matches its recorded SHA-256: refused, never served."""

    code = "evidence_tampered"
