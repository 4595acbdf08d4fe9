"""Per-vendor code behind one seam: ``vendor_for(connection)``.

See base.Vendor for what a vendor provides; a new database is a new module here
and one line in VENDORS.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from sqlmigrations.vendors.base import Vendor
from sqlmigrations.vendors.postgresql import PostgreSQL
from sqlmigrations.vendors.sqlite import SQLite

VENDORS: dict[str, type[Vendor]] = {v.name: v for v in (PostgreSQL, SQLite)}


def vendor_for(connection: BaseDatabaseWrapper) -> Vendor:
    return VENDORS[connection.vendor](connection)
