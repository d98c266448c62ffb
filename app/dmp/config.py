"""Settings of the dmp domain (a mixin of app.config.Settings; env prefix SEGUR_)."""

from pydantic_settings import BaseSettings


class DmpSettings(BaseSettings):
    """Fields are flat and prefixed with `dmp_`: `dmp_x` is read from `SEGUR_DMP_X`."""
