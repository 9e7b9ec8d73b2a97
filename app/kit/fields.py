"""Descriptions of fields that several schemas share, written once.

A field a user sees is described where it is declared; these aliases carry the
description (and nothing else), so a schema reads `read_only_hint: ReadOnlyHint = None`.
"""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field

ReadOnlyHint = Annotated[
    bool | None, Field(description="MCP hint: the tool does not change anything. Null: not stated.")
]
DestructiveHint = Annotated[
    bool | None,
    Field(description="MCP hint: the tool may delete or overwrite data (for a tool that is not read-only)."),
]
IdempotentHint = Annotated[
    bool | None, Field(description="MCP hint: calling it again with the same input has no further effect.")
]
OpenWorldHint = Annotated[
    bool | None,
    Field(description="MCP hint: the tool reaches outside systems (the internet, other services)."),
]

ToolUrn = Annotated[str, Field(description="The tool's URN, `tools:<kind>:<source>:<name>`.")]
ResourceUrn = Annotated[str, Field(description="The resource's URN, `resources:<kind>:<source>:<name>`.")]
ToolName = Annotated[str, Field(description="The tool's name as MCP clients see it.")]
ToolSummary = Annotated[str | None, Field(description="A one-line summary of the tool.")]
ToolDescription = Annotated[str | None, Field(description="What the tool does, for the model that calls it.")]
InputSchema = Annotated[dict[str, object], Field(description="JSON Schema of the tool's arguments.")]
HttpMethodField = Annotated[str, Field(description="The upstream HTTP method the tool calls.")]
HttpPath = Annotated[str, Field(description="The upstream path the tool calls, with `{parameters}`.")]
Tags = Annotated[list[str], Field(description="Free-form tags for grouping tools.")]
Title = Annotated[str | None, Field(description="A human-readable title for the tool (MCP `title`).")]
Confirm = Annotated[
    str | None, Field(description="When clients should ask a person before calling the tool (e.g. `always`).")
]
ConfirmPrompt = Annotated[str | None, Field(description="The question put to the person before a call.")]
Summarizer = Annotated[str | None, Field(description="Instructions for summarising the tool's output.")]

ResourceName = Annotated[str, Field(description="The resource's name as MCP clients see it.")]
ResourceUri = Annotated[str, Field(description="Where the resource is read from.")]
ResourceDescription = Annotated[str | None, Field(description="What the resource holds.")]
MimeType = Annotated[str | None, Field(description="The resource's media type, e.g. `application/json`.")]

CreatedAt = Annotated[datetime, Field(description="When it was created (UTC, ISO 8601).")]
UpdatedAt = Annotated[datetime, Field(description="When it last changed (UTC, ISO 8601).")]
Id = Annotated[UUID, Field(description="Its id, assigned by the service.")]
