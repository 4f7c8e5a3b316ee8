"""Serving over HTTP: the FastAPI app, the micro-batcher, limits, auth and metrics."""

from tunewise.serve.app import create_app
from tunewise.serve.registry import Served, load_served
from tunewise.serve.settings import ServeSettings
from tunewise.serve.shared_base import load_all

__all__ = ["Served", "ServeSettings", "create_app", "load_all", "load_served"]
