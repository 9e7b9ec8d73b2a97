from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.api_keys.schemas import ApiKeyRef
from app.kit.schemas import Schema

ACKNOWLEDGE_BREAKING = Field(
    False,
    description="Go ahead although the toolset's `block_breaking` policy finds breaking changes "
    "(recorded on the release and in the audit log).",
)


RELEASE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,59}$"
ReleaseName = Annotated[
    str,
    StringConstraints(pattern=RELEASE_NAME_PATTERN),
    AfterValidator(lambda name: _not_a_number(name)),
]


def _not_a_number(name: str) -> str:
    # `release:12` in a diff always means release number 12.
    if name.isdigit():
        raise ValueError("a release name cannot be only digits (it would read as a release number)")
    return name


class ReleaseCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"notes": "Adds the pet search tools.", "name": "2.3.0"}]}
    )

    notes: str | None = Field(
        None,
        max_length=2_000,
        description="What changed, for people.",
        examples=["Adds the pet search tools."],
    )
    name: ReleaseName | None = Field(
        None,
        description="A name unique within the toolset (`[A-Za-z0-9._+-]`, at most 60, not only digits), "
        "e.g. `2.3.0`; a diff side may then be `release:2.3.0`.",
        examples=["2.3.0"],
    )
    acknowledge_breaking: bool = ACKNOWLEDGE_BREAKING

    def fingerprint_fields(self) -> dict[str, object]:
        """What makes two requests with one Idempotency-Key the same request."""
        fields: dict[str, object] = {"notes": self.notes}
        if self.name is not None:
            fields["name"] = self.name
        if self.acknowledge_breaking:
            fields["acknowledge_breaking"] = True
        return fields


class RollbackRequest(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Release 3 broke the pet search in Claude."}]}
    )

    reason: str | None = Field(None, max_length=2_000, description="Why; recorded in the audit log.")
    acknowledge_breaking: bool = ACKNOWLEDGE_BREAKING


class Release(BaseModel):
    id: UUID = Field(description="The release's id.")
    release_number: int = Field(description="1, 2, 3… per toolset, with no gaps.")
    name: str | None = Field(None, description="The release's name, unique within the toolset.")
    notes: str | None = Field(description="What changed, as its author wrote.")
    released_by: ApiKeyRef | None = Field(
        description="The API key that made the release; null when none was recorded."
    )
    created_at: datetime = Field(description="When it was made.")
    toolset_version: int = Field(description="The captured toolset_versions row's version.")
    source_state_id: UUID = Field(
        description="The captured source state: which deployment and which prompt template revisions the "
        "release serves. Two releases with the same id serve the same upstream definitions."
    )
    current: bool = Field(False, description="True for the toolset's current release.")
    acknowledged_breaking: bool = Field(
        False, description="Made with breaking changes that the block_breaking policy let through on request."
    )


class Change(BaseModel):
    from_: Any = Field(alias="from", description="The value on the `from` side.")
    to: Any = Field(description="The value on the `to` side.")


class ItemChange(BaseModel):
    urn: str | None = Field(None, description="The changed tool's or resource's URN.")
    name: str | None = Field(None, description="The changed prompt's name.")
    fields: dict[str, Change] = Field(description="Each changed field, by name.")


class ItemDiff(BaseModel):
    added: list[str] = Field(description="URNs (or prompt names) only on the `to` side.")
    removed: list[str] = Field(description="URNs (or prompt names) only on the `from` side.")
    changed: list[ItemChange] = Field(description="Items on both sides that differ, field by field.")


Impact = Literal["breaking", "compatible", "cosmetic"]


class SemanticChange(BaseModel):
    """One change, classified by what it means to clients."""

    section: Literal["metadata", "tools", "resources", "prompts"] = Field(
        description="Which part of the state changed."
    )
    item: str | None = Field(description="The tool or resource URN, or the prompt name; null for metadata.")
    field: str | None = Field(description="The changed field; null when the whole item was added or removed.")
    path: str | None = Field(
        description="A JSON pointer inside the field's value: where in `input_schema` (or which prompt "
        "argument) the change is; empty for the schema's root, null for a plain field."
    )
    change: Literal["added", "removed", "changed"] = Field(
        description="`added` or `removed`: the whole item; `changed`: one of its fields."
    )
    impact: Impact = Field(
        description="`breaking`: a client that worked may fail; `compatible`: everything that worked "
        "still works; `cosmetic`: only what people read changed."
    )
    reason: str = Field(
        description="What changed and why it has this impact, for people.",
        examples=["tool `get_pet` (tools:http:petstore:get_pet): input `id`: now required"],
    )


class ImpactCounts(BaseModel):
    breaking: int = Field(description="Changes a client that worked may fail on.")
    compatible: int = Field(description="Changes after which everything that worked still works.")
    cosmetic: int = Field(description="Changes only people read (descriptions, titles, tags).")


class StateDiff(BaseModel):
    from_: str = Field(alias="from", description="`live`, `staging`, `next`, `release:N` or `release:NAME`.")
    to: str = Field(description="`live`, `staging`, `next`, `release:N` or `release:NAME`.")
    metadata: dict[str, Change] = Field(description="Changed toolset fields: `name`, `description`.")
    tools: ItemDiff = Field(description="Tools added, removed and changed.")
    resources: ItemDiff = Field(description="Resources added, removed and changed.")
    prompts: ItemDiff = Field(description="Prompts added, removed and changed.")
    changes: list[SemanticChange] = Field(
        description="Every change above, one entry per classified difference (an input schema change "
        "counts each keyword that changed), breaking first."
    )
    counts: ImpactCounts = Field(description="How many of `changes` have each impact.")
    impact: Impact | None = Field(description="The most serious impact of any change; null when none.")


class AuditEntry(BaseModel):
    id: UUID = Field(description="The entry's id.")
    action: Literal[
        "create_release",
        "publish",
        "rollback",
        "mode_switch",
        "discard",
        "rename",
        "policy_update",
        "label_move",
        "label_delete",
        "prune",
        "snapshot_restore",
        "review_request",
        "review_approve",
    ] = Field(description="What happened.")
    actor: ApiKeyRef = Field(description="The API key that acted.")
    from_release_number: int | None = Field(description="The release served before.")
    to_release_number: int | None = Field(description="The release served after.")
    details: dict[str, Any] = Field(
        description='More about the action, e.g. `{"from": "iteration", "to": "staging"}` for a mode switch.'
    )
    created_at: datetime = Field(description="When it happened.")
