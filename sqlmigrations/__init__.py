"""Apply versioned raw SQL migrations from Django management commands."""

import logging

# The one place the version is written: pyproject.toml reads it (tool.setuptools.dynamic).
__version__ = "0.1.0"

# As the logging HOWTO advises a library: without a handler anywhere, Python's last-resort
# handler would print each warning and error of this logger on stderr, beside the
# command's own line (twice in all). Configured handlers, here or on the root, still get
# every record.
logging.getLogger(__name__).addHandler(logging.NullHandler())
