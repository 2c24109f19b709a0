"""Every ORM table, one module per aggregate (``campus/models/<domain>.py``).

Importing this package imports every module in it, so each table is registered on
``Base.metadata`` (Alembic, the drift test) without a list to keep: a new domain's model
module is found by being here. Import the classes from their own module
(``from campus.models.accounts import User``).
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
