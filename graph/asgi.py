"""The application for process managers: `uvicorn graph.asgi:app` (settings from the environment)."""

from graph.app import create_app

app = create_app()
