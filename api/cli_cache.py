"""`cohort cache flush [--model NAME]`: drop cached results, and every whole response cached
before GraphQL (any of them may hold the model's rows).

Model and policy changes need no flush: both versions are part of every cache key, so
old entries are simply never read again and expire with their TTL.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from api.redis_client import connect_redis
from api.response_cache import flush_responses
from api.settings import Settings
from cache.result_cache import ResultCache

cache_app = typer.Typer(help="The result cache in Redis.", no_args_is_help=True)
console = Console()


@cache_app.command()
def flush(model: Annotated[str | None, typer.Option(help="Only this model's results.")] = None) -> None:
    """Delete cached results (of one model, or all)."""
    from api.services import start_services
    from schema.spec import is_name

    if model is not None and not is_name(model):  # `*`, `?` or `[` would match other models' keys
        raise typer.BadParameter(f"{model!r} is not a model name", param_hint="--model")

    settings = Settings.from_env()
    services = start_services(settings)

    async def work() -> tuple[int, int]:
        redis = connect_redis(services.redis_url, cluster=settings.redis_cluster, timeout_s=5.0)
        try:
            return await ResultCache(redis, timeout_s=5.0).flush(model), await flush_responses(redis)
        finally:
            await redis.aclose()

    results, responses = asyncio.run(work())
    console.print(
        f"deleted {results} cached result(s){f' of {model}' if model else ''}"
        f" and {responses} cached response(s)"
    )
