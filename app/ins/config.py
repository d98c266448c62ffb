"""Settings of the ins domain (a mixin of app.config.Settings; env prefix SEGUR_)."""

from pydantic_settings import BaseSettings


class InsSettings(BaseSettings):
    """Fields are flat and prefixed with `ins_`: `ins_x` is read from `SEGUR_INS_X`."""
