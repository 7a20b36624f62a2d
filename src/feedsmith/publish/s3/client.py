"""The S3 client every bucket user shares: how a client is made, how its errors read, one GET.

Why apart from the sink: the sink, the lease (:mod:`feedsmith.publish.s3.lease`) and the
replicas' store (:mod:`feedsmith.serve.bucket_store`) all talk to the same bucket with the same
retries, timeouts and error sentences; none of them should need the others to get a client.
boto3 and botocore are imported inside the functions that need them: they are optional, heavy,
and only wanted when a bucket is configured.
"""

from __future__ import annotations

import re
from typing import Any

from feedsmith import __version__
from feedsmith.core.config import S3Config

__all__ = ["BucketError", "describe_error", "error_code", "fetch_object", "make_client"]

#: Error codes that mean "these credentials may not do this" (403 without a code, too).
_AUTH_CODES = {"AccessDenied", "ExpiredToken", "InvalidAccessKeyId", "InvalidToken"}
_AUTH_CODES |= {"SignatureDoesNotMatch", "AuthorizationHeaderMalformed"}


class BucketError(Exception):
    """One line naming the bucket and endpoint: what ``sink_errors`` and exit 4 report."""


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def describe_error(settings: S3Config, action: str, exc: BaseException) -> str:
    """The one line a person can act on: which bucket, which endpoint, what to check."""
    from botocore import exceptions as bx

    bucket = settings.bucket
    where = settings.endpoint_url or f"AWS S3 ({settings.region or 'default region'})"
    cause: BaseException | None = exc
    while cause is not None and not cause.__module__.startswith("botocore"):
        cause = cause.__cause__ or cause.__context__
    cause = cause or exc
    if isinstance(cause, bx.ClientError):
        err = cause.response.get("Error", {})
        code = str(err.get("Code", "?"))
        status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            text = f"bucket {bucket!r} does not exist at {where}"
        elif code in _AUTH_CODES or status == 403:
            text = (
                f"bucket {bucket!r} at {where} refused the credentials ({code}); they"
                " come from the environment, AWS profile or instance role"
            )
        else:
            text = f"{action} to bucket {bucket!r} at {where} failed: {code}: "
            text += str(err.get("Message", cause))
    elif isinstance(cause, bx.NoCredentialsError | bx.PartialCredentialsError):
        text = (
            f"no AWS credentials for bucket {bucket!r} at {where}: set"
            " AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role"
        )
    elif isinstance(cause, bx.ConnectionError | bx.ConnectionClosedError):
        text = f"cannot reach {where} for bucket {bucket!r}: {cause}"
    elif isinstance(cause, bx.ReadTimeoutError):
        text = f"{where} timed out for bucket {bucket!r} during {action}"
    else:
        text = f"{action} to bucket {bucket!r} at {where} failed: {cause}"
    return re.sub(r"\s+", " ", text).strip()


def make_client(settings: S3Config) -> Any:
    """An S3 client for ``settings``: standard retries, bounded timeouts, and the checksum
    mode every S3-compatible store accepts (newer botocore streams CRC trailers by default,
    which some of them refuse)."""
    import boto3
    from botocore.config import Config as BotoConfig

    options: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": 3},
        "connect_timeout": 10,
        "read_timeout": 60,
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
        "user_agent_extra": f"feedsmith/{__version__}",
    }
    if settings.endpoint_url:
        options["s3"] = {"addressing_style": "path"}  # MinIO, moto: no per-bucket host names
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        config=BotoConfig(**options),
    )


def fetch_object(settings: S3Config, rel: str, *, client: Any = None) -> bytes | None:
    """The bytes of ``rel`` as published in the bucket, ``None`` when it has no such object.

    Used to recover the id map (:mod:`feedsmith.core.identity`) when a build starts without its
    state and output (a CI job on a fresh clone); other failures raise :class:`BucketError`.
    """
    client = client or make_client(settings)
    key = settings.prefix + rel
    try:
        answer = client.get_object(Bucket=settings.bucket, Key=key)
        return bytes(answer["Body"].read())
    except Exception as exc:
        if error_code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
            return None
        raise BucketError(describe_error(settings, f"download of {key}", exc)) from exc
