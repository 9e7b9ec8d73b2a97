from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from app.kit.schemas import ProjectName, ProjectSlug, Schema


class ProjectCreate(Schema):
    name: ProjectName = Field(examples=["Petstore"])
    slug: ProjectSlug = Field(examples=["petstore"])


class Project(BaseModel):
    id: UUID
    name: str
    slug: str
    created_at: datetime
