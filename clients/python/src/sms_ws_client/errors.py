"""Typed errors. ``code`` is stable (match on it or on the class); ``close_code`` is the
WebSocket close code that caused it; ``fatal`` says whether the client gave up."""

from __future__ import annotations


class SmsWsError(Exception):
    """Base of every error the client reports or raises."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        close_code: int | None = None,
        fatal: bool = False,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.close_code = close_code
        self.fatal = fatal
        self.http_status = http_status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, close_code={self.close_code!r}, message={str(self)!r})"


class AuthFailedError(SmsWsError):
    """4401: invalid, unknown or revoked API key or token."""


class BadRequestError(SmsWsError):
    """4400: the server refused the client's message: fix the client."""


class ForbiddenError(SmsWsError):
    """4403: origin not allowed, or a credential of a role this endpoint does not serve."""


class KickedError(SmsWsError):
    """4410: an operator closed the connection (``sms-ws kick``); the credential stays valid."""


class HistoryError(SmsWsError):
    """``history()`` or the backfill failed; ``http_status`` when the server answered."""


_BY_CODE: dict[str, type[SmsWsError]] = {
    "AUTH_FAILED": AuthFailedError,
    "BAD_REQUEST": BadRequestError,
    "FORBIDDEN": ForbiddenError,
    "KICKED": KickedError,
    "HISTORY_FAILED": HistoryError,
}


def error_for(code: str, message: str, *, close_code: int | None = None, fatal: bool = False) -> SmsWsError:
    """The typed error of ``code`` (SmsWsError itself for codes without a class)."""
    return _BY_CODE.get(code, SmsWsError)(code, message, close_code=close_code, fatal=fatal)
