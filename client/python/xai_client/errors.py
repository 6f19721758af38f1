"""Typed errors of xai_client: one class per gRPC status code the server answers with,
each carrying the code, the server's message and the call's request id."""

from __future__ import annotations

from typing import Dict, Optional, Type

import grpc


class XaiError(Exception):
    """A call failed. ``code`` is the gRPC status code, ``message`` the server's (or
    gRPC's) explanation, ``request_id`` the x-request-id the call was sent with, which the
    server's access log and error messages repeat."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, *, code: Optional[grpc.StatusCode] = None,
                 request_id: str = "", rpc: str = "", attempts: int = 1):
        if code is not None:
            self.code = code
        self.message = message
        self.request_id = request_id
        self.rpc = rpc
        self.attempts = attempts
        where = f"{rpc}: " if rpc else ""
        tries = f", after {attempts} attempts" if attempts > 1 else ""
        rid = f" (request id {request_id}{tries})" if request_id else ""
        super().__init__(f"{where}{self.code.name}: {message}{rid}")


class InvalidArgumentError(XaiError):
    """A bad field or an image the server cannot decode; the message names which."""
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(XaiError):
    """No such model or version."""
    code = grpc.StatusCode.NOT_FOUND


class UnavailableError(XaiError):
    """No server answered (bad target, dead server, network), or the model is not ready,
    or the server is shutting down. Retried."""
    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhaustedError(XaiError):
    """A queue is full or a client's cap of calls in flight was reached (retried), or a
    message was over the server's size limit (gRPC's own answer; not retried)."""
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class DeadlineExceededError(XaiError):
    """The call's timeout passed before it was answered."""
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class UnimplementedError(XaiError):
    """The method or RPC is not served by this server."""
    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(XaiError):
    """The model failed; the server's log has the details under the request id."""
    code = grpc.StatusCode.INTERNAL


class CancelledError(XaiError):
    code = grpc.StatusCode.CANCELLED


class FailedPreconditionError(XaiError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDeniedError(XaiError):
    code = grpc.StatusCode.PERMISSION_DENIED


class UnauthenticatedError(XaiError):
    code = grpc.StatusCode.UNAUTHENTICATED


_BY_CODE: Dict[grpc.StatusCode, Type[XaiError]] = {
    cls.code: cls
    for cls in (InvalidArgumentError, NotFoundError, UnavailableError, ResourceExhaustedError,
                DeadlineExceededError, UnimplementedError, InternalError, CancelledError,
                FailedPreconditionError, PermissionDeniedError, UnauthenticatedError)
}


def error_for(code: grpc.StatusCode, message: str, **kwargs) -> XaiError:
    """The XaiError subclass of ``code`` (XaiError itself for the others)."""
    cls = _BY_CODE.get(code, XaiError)
    return cls(message, code=code, **kwargs)
