"""graphql-core's executor, taught to leave projected rows alone.

A root field returns `ProjectedRows`, already in the response shape; completing them
field by field would cost more than the SQL. Everything else completes as usual.
"""

from __future__ import annotations

from typing import Any

from graphql.execution.incremental import IncrementalExecutor

from resolvers.projection import ProjectedRows


class ProjectingExecutor(IncrementalExecutor):
    def complete_list_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if type(result) is ProjectedRows:
            return result.rows  # Structs, or msgspec.Raw JSON from the result cache
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )
