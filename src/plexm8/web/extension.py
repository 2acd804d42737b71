"""The typed accessor through which views reach the services of the current app."""

from __future__ import annotations

from flask import Flask, current_app

from plexm8.bootstrap import Services

__all__ = ["EXTENSION_KEY", "get_services", "services_of"]

EXTENSION_KEY = "plexm8"


def get_services() -> Services:
    """The :class:`~plexm8.bootstrap.Services` of the app handling the current request."""
    return services_of(current_app)


def services_of(app: Flask) -> Services:
    """The :class:`~plexm8.bootstrap.Services` of ``app`` (also outside a request, for WSGI-level answers)."""
    services = app.extensions[EXTENSION_KEY]
    if not isinstance(services, Services):
        raise TypeError(f"app.extensions[{EXTENSION_KEY!r}] holds {type(services).__name__}, not Services")
    return services
