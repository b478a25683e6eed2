"""What the AIStore tests share."""

from __future__ import annotations

from aistore.sdk.retry_config import RetryConfig
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt
from urllib3.util.retry import Retry


def no_retries() -> RetryConfig:
    # The SDK retries a missing object (ErrObjNotFound is "retryable") for about a minute;
    # the tests that expect a 404 want the first answer.
    return RetryConfig(http_retry=Retry(total=0), network_retry=Retrying(
        stop=stop_after_attempt(1), retry=retry_if_exception_type(()), reraise=True))
