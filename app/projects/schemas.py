from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.kit.schemas import ProjectName, ProjectSlug, Schema

NAME = "The project's name, for people (at most 40 characters)."
SLUG = "The project's address in every path (`/v1/projects/{slug}`): `[a-z0-9-]`, at most 40, unique."


class ProjectCreate(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Petstore", "slug": "petstore"}]})

    name: ProjectName = Field(description=NAME, examples=["Petstore"])
    slug: ProjectSlug = Field(description=SLUG, examples=["petstore"])


class Project(BaseModel):
    id: UUID = Field(description="The project's id.")
    name: str = Field(description=NAME)
    slug: str = Field(description=SLUG)
    created_at: datetime = Field(description="When it was created.")
