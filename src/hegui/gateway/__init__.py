"""The compliance gateway: an OpenAI-compatible proxy that puts every request through the duties.

`create_app(settings)` builds the FastAPI app; ``hegui serve`` runs it under uvicorn. The app is
imported lazily so that `hegui.config` can import `GatewayConfig` without pulling in FastAPI.
"""

from typing import Any

from hegui.gateway.config import GatewayConfig, StreamMode, UpstreamConfig

__all__ = ["GatewayConfig", "StreamMode", "UpstreamConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hegui.gateway.app import create_app

        return create_app
    raise AttributeError(name)
