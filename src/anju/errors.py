"""Domain errors: a stable code, an HTTP status, and a message in Chinese and English."""

from __future__ import annotations

from typing import Any

from anju.i18n import Bilingual


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    The web layer maps it to a 4xx page or JSON body; a 500 is always a bug.
    ``details`` carries structured information such as per-field or per-row errors.
    """

    code = "domain_error"
    http_status = 400

    def __init__(
        self,
        message_zh: str,
        message_en: str = "",
        *,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message_en or message_zh)
        # Chinese that knows its English: a page that shows ``exc.message_zh`` to an English reader
        # shows the English (anju.web.templating), the API and logs keep the Chinese.
        self.message_zh: str = Bilingual(message_zh, message_en)
        self.message_en = message_en or message_zh
        if code:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """JSON body of this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message_zh, "message_en": self.message_en}
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationFailed(DomainError):
    """Input is wrong; ``details`` lists ``{"field": ..., "message": ...}`` or row/column errors."""

    code = "validation_failed"
    http_status = 422


class NotFound(DomainError):
    """The entity does not exist or is outside the user's data scope (never tell which)."""

    code = "not_found"
    http_status = 404


class PermissionDenied(DomainError):
    """The user's role lacks the permission for this action."""

    code = "permission_denied"
    http_status = 403


class NotAuthenticated(DomainError):
    """No valid session."""

    code = "not_authenticated"
    http_status = 401


class PasswordChangeRequired(DomainError):
    """The user logged in with a one-time password an administrator set: only the change form opens."""

    code = "password_change_required"
    http_status = 403


class Conflict(DomainError):
    """The write conflicts with the current state (duplicate, stale version, illegal transition)."""

    code = "conflict"
    http_status = 409


class TooManyAttempts(DomainError):
    """Login throttling, or too many public requests from one address."""

    code = "too_many_attempts"
    http_status = 429
