"""The application for process managers: `uvicorn graph.asgi:app` (settings from the environment)."""

from graph.app import create_app
from graph.runtime import tune_garbage_collector
from graph.settings import Settings

settings = Settings.from_env()
tune_garbage_collector(settings.gc_threshold)
app = create_app(settings)
