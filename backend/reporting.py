"""Error pages and reports that never show a credential, even with DEBUG on.

Django's own filter hides settings and request.META entries by name (PASSWORD, SECRET,
KEY...), and frame variables only where a view says so. That leaves DATABASE_URL in the
environment (runserver copies it into every request's META), URLs with a password in
other settings or variables, and the connection parameters in the frames of a failed
connection. This filter hides those too, by name and by value; the reporter applies the
value rule to everything else it prints (exception messages, object reprs), and the
logging filter to every log line and traceback (settings.LOGGING).
"""

from __future__ import annotations

import logging
import re
from types import FrameType
from typing import Any

from django.http import HttpRequest
from django.utils.regex_helper import _lazy_re_compile
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

SUBSTITUTE = SafeExceptionReporterFilter.cleansed_substitute
# scheme://user:password@ : the password is everything up to the last @ of the authority.
URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/?#\s:@]*:)[^/?#\s]*@", re.I)
# libpq key=value connection strings: password=secret or password='sec ret'.
CONNINFO_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)


def cleanse_text(text: str) -> str:
    """The text with the password of every URL and connection string replaced."""
    text = URL_PASSWORD.sub(lambda m: f"{m['head']}{SUBSTITUTE}@", text)
    return CONNINFO_PASSWORD.sub(lambda m: f"{m['head']}{SUBSTITUTE}", text)


class CredentialCleansingFilter(SafeExceptionReporterFilter):
    hidden_settings = _lazy_re_compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL|DSN|DATABASE_URL",
        flags=re.I,
    )

    def is_active(self, request: HttpRequest | None) -> bool:
        # Django turns sensitive_variables/sensitive_post_parameters off in DEBUG; not here.
        return True

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        return cleanse_text(cleansed) if isinstance(cleansed, str) else cleansed

    def get_traceback_frame_variables(
        self, request: HttpRequest | None, tb_frame: FrameType
    ) -> Any:
        # Every local, by name and value as settings are: conn_params, settings_dict, url.
        return [
            (name, self.cleanse_variable(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def cleanse_variable(self, name: str, value: Any) -> Any:
        try:
            return self.cleanse_setting(name, value)
        except RecursionError:  # a dict or list that contains itself
            return self.cleansed_substitute


class CredentialCleansingReporter(ExceptionReporter):
    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        for frame in data["frames"]:
            if "vars" in frame:  # already printed to text by Django
                frame["vars"] = [(k, cleanse_text(v)) for k, v in frame["vars"]]
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = cleanse_text(str(frame["exc_cause"]))
        if "exception_value" in data:
            data["exception_value"] = cleanse_text(str(data["exception_value"]))
        return data


class HideCredentials(logging.Filter):
    """A logging filter: the record's message and traceback with every password replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = cleanse_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = cleanse_text(record.exc_text)
        return True
