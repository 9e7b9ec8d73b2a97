from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.kit.schemas import ProjectName, ProjectSlug, Schema


class ProjectCreate(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Petstore", "slug": "petstore"}]})

    name: ProjectName = Field(examples=["Petstore"])
    slug: ProjectSlug = Field(examples=["petstore"])


class Project(BaseModel):
    id: UUID
    name: str
    slug: str
    created_at: datetime
