"""Settings of the mss domain (a mixin of app.config.Settings; env prefix SEGUR_)."""

from pydantic_settings import BaseSettings


class MssSettings(BaseSettings):
    """Fields are flat and prefixed with `mss_`: `mss_x` is read from `SEGUR_MSS_X`."""
