"""The JSON Schema of a config file kind, as editors use it to check YAML while it is typed.

Pydantic writes the schema from the same declarations the loader validates with; this module adds
what only the file knows: ``venue_defaults`` holds any subset of a venue entry, so a venue entry
alone need not carry every required key.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.config.loading import adapter

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def file_schema(kind: type, title: str) -> dict[str, Any]:
    schema = copy.deepcopy(adapter(kind).json_schema())
    venue_entry = getattr(kind, "venue_entry", None)
    if venue_entry is not None:
        entry = schema["$defs"][venue_entry.__name__]
        required = entry.pop("required", [])
        entry["description"] = (entry.get("description", "") + f" Required here or in venue_defaults: "
                                f"{', '.join(required)}.").strip()
        schema["properties"]["venue_defaults"] = {
            "$ref": f"#/$defs/{venue_entry.__name__}",
            "description": "merged under every entry of venues (an entry's own keys win)"}
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "title": title}
