"""Keeps personal data out of the application logs.

Log lines must never hold patient names, emails or image bytes. Names cannot be recognised
reliably, so code never logs them (a test runs a request cycle and checks); email addresses
can, and this filter blanks any that slip into a message, e.g. through a URL or an error.
"""

from __future__ import annotations

import logging
import re

EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
REDACTED = "[email redacted]"


class RedactEmails(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call is the formatter's to report
            return True
        if "@" in message:
            record.msg = EMAIL.sub(REDACTED, message)
            record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and "@" in record.exc_text:
            record.exc_text = EMAIL.sub(REDACTED, record.exc_text)
        return True
