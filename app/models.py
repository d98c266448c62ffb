"""Importing this module registers every table of every domain on ``app.db.Base.metadata``."""

from app.domains import import_models

import_models()
