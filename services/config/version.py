"""The version of the running service, as installed (dead letters carry it)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def service_version() -> str:
    try:
        return version("premiers-mois")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


SERVICE_VERSION = service_version()
