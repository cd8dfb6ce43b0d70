"""What `cohort serve` prints at start: where the API is, a token, and a query that runs on
the models actually loaded (not the demo's, unless the demo is what is served)."""

from __future__ import annotations

import shlex

import orjson

from schema.naming import camel
from schema.registry import Registry


def example_query(registry: Registry) -> str | None:
    """A small query of the loaded models: a count by a text dimension, or None."""
    for name in sorted(registry.models):
        spec = registry.model(name)
        counts = [m for m, s in spec.measures.items() if s.public and s.type in ("count", "count_distinct")]
        texts = [d for d, s in spec.dimensions.items() if s.public and s.type == "string"]
        if counts:
            fields = " ".join(camel(member) for member in (*texts[:1], counts[0]))
            order = f"orderBy: [{{{camel(counts[0])}: DESC}}], " if texts else ""
            return f"{{ {camel(name)}({order}limit: 5) {{ {fields} }} }}"
    return None


def banner(base: str, registry: Registry, token: str | None, token_for: str, graphiql: bool) -> list[str]:
    lines = [f"Cohort on {base}"]
    if graphiql:
        lines.append(f"  GraphiQL:  {base}/graphiql  (set the Authorization header in its Headers tab)")
    lines.append(f"  health:    {base}/readyz    metrics: {base}/metrics")
    lines.append(f"  models:    {len(registry.models)} ({', '.join(sorted(registry.models))})")
    if token is not None:
        lines += [f"  a 12-hour token for {token_for}:", f"    export TOKEN={token}"]
    lines.append("  tokens:    .venv/bin/cohort dev-token --tenant TENANT --role ROLE  (a JWT to try things)")
    query = example_query(registry)
    if query is not None:
        body = orjson.dumps({"query": query}).decode()
        lines += [
            "  try:",
            f"    curl -s {base}/graphql -H 'content-type: application/json' "
            f'-H "authorization: Bearer $TOKEN" -d {shlex.quote(body)}',
        ]
    return lines
