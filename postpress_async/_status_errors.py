"""HTTP status -> error class: the one table, and the error types the API documents.

The classes are :mod:`._exceptions`' (the tree is drawn there); :data:`STATUS_ERRORS`
maps each status the API documents to its class, :func:`error_class_for` is the pure
function that reads it, and :data:`DOCUMENTED_ERROR_TYPES` lists the error ``type``
values of each status. :func:`~._retry.status_error` builds the complete error;
:func:`not_the_api` words the hint of a 404 that did not come from the API.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    BadGatewayError,
    BadRequestError,
    GatewayTimeoutError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    ServiceUnavailableError,
)

__all__ = ["DOCUMENTED_ERROR_TYPES", "STATUS_ERRORS", "error_class_for", "not_the_api"]


#: HTTP status -> error class. Any status not listed maps to :class:`APIStatusError`.
STATUS_ERRORS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
    500: InternalServerError,
    502: BadGatewayError,
    503: ServiceUnavailableError,
    504: GatewayTimeoutError,
}


#: Every error ``type`` the API reference documents, by HTTP status. Servers may send
#: others; they map to their status's class all the same.
DOCUMENTED_ERROR_TYPES: Mapping[int, frozenset[str]] = {
    400: frozenset(
        {
            "errors/invalid_parameters",
            "errors/missing_parameters",
            "errors/invalid_request",
            "errors/malformed_request",
            "errors/content_too_large",
            "errors/too_many_characters",
            "errors/unescaped_characters",
            "errors/limit_too_high",
            "errors/invalid_action",
            "errors/invalid_label",
        }
    ),
    401: frozenset(
        {
            "errors/missing_credentials",
            "errors/multiple_sessions",
            "errors/wrong_account",
            "errors/invalid_credentials",
            "errors/invalid_proxy_credentials",
            "errors/invalid_imap_configuration",
            "errors/invalid_smtp_configuration",
            "errors/invalid_checkpoint_solution",
            "errors/checkpoint_error",
            "errors/expired_credentials",
            "errors/expired_link",
            "errors/insufficient_privileges",
            "errors/disconnected_account",
            "errors/disconnected_feature",
            "errors/invalid_credentials_but_valid_account_imap",
        }
    ),
    403: frozenset(
        {
            "errors/account_restricted",
            "errors/account_mismatch",
            "errors/insufficient_permissions",
            "errors/session_mismatch",
            "errors/feature_not_subscribed",
            "errors/subscription_required",
            "errors/unknown_authentication_context",
            "errors/action_required",
            "errors/resource_access_restricted",
        }
    ),
    404: frozenset({"errors/resource_not_found", "errors/invalid_resource_identifier"}),
    500: frozenset(
        {"errors/unexpected_error", "errors/provider_error", "errors/authentication_intent_error"}
    ),
    503: frozenset(
        {
            "errors/no_client_session",
            "errors/no_channel",
            "errors/no_handler",
            "errors/network_down",
            "errors/service_unavailable",
        }
    ),
    504: frozenset({"errors/request_timeout"}),
}


def error_class_for(status: int) -> type[APIStatusError]:
    """Return the error class for an HTTP status (pure; reads ``STATUS_ERRORS``; any
    3xx is a :class:`RedirectError`)."""
    if 300 <= status < 400:
        return RedirectError
    return STATUS_ERRORS.get(status, APIStatusError)


def not_the_api(where: str, option: str) -> str:
    """The hint for a 404 without the API's error envelope: whatever answered at ``where``
    is not the postpress API (a wrong host, a base URL missing its ``/api/v1``). One wording
    for the error's message (``option`` ``"base_url"``) and the command line's
    (``"--base-url"``), so both say one thing."""
    return (
        f"at {where}: check {option} (or POSTPRESS_BASE_URL); "
        "this does not look like the postpress API"
    )
