from pydantic import BaseModel, Field


class CapturedRows(BaseModel):
    toolset_releases: int = Field(description="Releases deleted.")
    toolset_versions: int = Field(description="Captured selections and metadata only they referred to.")
    tool_variations_group_versions: int = Field(
        description="Captured variation group versions only they referred to."
    )
    source_states: int = Field(description="Captured deployment and template states only they referred to.")
    system_source_states: int = Field(description="Captured template revision sets no source state uses.")


class PruneResult(BaseModel):
    dry_run: bool = Field(description="True when nothing was deleted: this is what would go.")
    keep_last: int = Field(description="The policy's `keep_last` that was applied.")
    pruned_release_numbers: list[int] = Field(description="The releases deleted (or that would be).")
    deleted_rows: CapturedRows = Field(
        description="Rows deleted from each capture table: the releases, and what only they referred to."
    )
