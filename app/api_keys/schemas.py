from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class ApiKeyRef(BaseModel):
    """The API key that acted, as a person can recognise it: `toolsets list-api-keys` lists the same."""

    id: str = Field(description="The key's id.", examples=["8a6e0f2c-1b7d-4a53-9a43-3f3c2f0d9e15"])
    name: str | None = Field(
        description="The name given with `toolsets create-api-key --name`; null for an actor that is "
        "not a key of this database.",
        examples=["ci-release-bot"],
    )
    prefix: str | None = Field(
        description="The key's first 12 characters: enough to recognise it, never enough to use it.",
        examples=["tsk_Q2xhdWRl"],
    )


def key_ref(key_id: str | None, name: str | None, prefix: str | None) -> ApiKeyRef | None:
    return None if key_id is None else ApiKeyRef(id=key_id, name=name, prefix=prefix)


class ApiKey(BaseModel):
    """A row of `toolsets list-api-keys`."""

    id: UUID
    organization_id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
