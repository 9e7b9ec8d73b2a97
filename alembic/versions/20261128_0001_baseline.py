"""Baseline: the platform's schema before staging and releases.

Projects, deployments with their tool and resource definitions, toolsets with
their versioned tool selection, variation groups and variations, copy-on-write
prompt templates, toolset prompt attachments and hashed API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE api_keys (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id text NOT NULL,
    name text NOT NULL,
    key_prefix text NOT NULL,
    key_hash text NOT NULL,
    scopes text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);

CREATE TABLE projects (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id text NOT NULL,
    name text NOT NULL,
    slug text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projects_pkey PRIMARY KEY (id),
    CONSTRAINT projects_organization_id_slug_key UNIQUE (organization_id, slug)
);

CREATE TABLE deployments (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id text NOT NULL,
    project_id uuid NOT NULL,
    status text NOT NULL DEFAULT 'completed',
    seq bigint GENERATED ALWAYS AS IDENTITY,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deployments_pkey PRIMARY KEY (id),
    CONSTRAINT deployments_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT deployments_status_check CHECK (status IN ('pending', 'completed', 'failed'))
);
CREATE INDEX deployments_project_id_seq_idx ON deployments (project_id, seq DESC);

CREATE TABLE http_tool_definitions (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    deployment_id uuid NOT NULL,
    tool_urn text NOT NULL,
    name text NOT NULL,
    summary text,
    description text NOT NULL DEFAULT '',
    input_schema jsonb NOT NULL DEFAULT '{}'::jsonb,
    http_method text NOT NULL,
    path text NOT NULL,
    tags text[] NOT NULL DEFAULT '{}',
    read_only_hint boolean,
    destructive_hint boolean,
    idempotent_hint boolean,
    open_world_hint boolean,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT http_tool_definitions_pkey PRIMARY KEY (id),
    CONSTRAINT http_tool_definitions_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT http_tool_definitions_deployment_id_fkey FOREIGN KEY (deployment_id)
        REFERENCES deployments (id) ON DELETE CASCADE,
    CONSTRAINT http_tool_definitions_deployment_id_tool_urn_key UNIQUE (deployment_id, tool_urn)
);

CREATE TABLE resource_definitions (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    deployment_id uuid NOT NULL,
    resource_urn text NOT NULL,
    name text NOT NULL,
    uri text NOT NULL,
    description text,
    mime_type text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT resource_definitions_pkey PRIMARY KEY (id),
    CONSTRAINT resource_definitions_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT resource_definitions_deployment_id_fkey FOREIGN KEY (deployment_id)
        REFERENCES deployments (id) ON DELETE CASCADE,
    CONSTRAINT resource_definitions_deployment_id_resource_urn_key UNIQUE (deployment_id, resource_urn)
);

CREATE TABLE prompt_templates (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    history_id uuid NOT NULL,
    predecessor_id uuid,
    name text NOT NULL,
    description text,
    prompt text NOT NULL,
    arguments jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    deleted boolean NOT NULL GENERATED ALWAYS AS (deleted_at IS NOT NULL) STORED,
    CONSTRAINT prompt_templates_pkey PRIMARY KEY (id),
    CONSTRAINT prompt_templates_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT prompt_templates_predecessor_id_fkey FOREIGN KEY (predecessor_id)
        REFERENCES prompt_templates (id) ON DELETE SET NULL,
    CONSTRAINT prompt_templates_predecessor_id_key UNIQUE (predecessor_id)
);
CREATE INDEX prompt_templates_project_id_name_idx ON prompt_templates (project_id, name);
CREATE INDEX prompt_templates_history_id_idx ON prompt_templates (history_id);

CREATE TABLE tool_variations_groups (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    name text NOT NULL,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tool_variations_groups_pkey PRIMARY KEY (id),
    CONSTRAINT tool_variations_groups_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE
);

CREATE TABLE project_tool_variations (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL,
    group_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT project_tool_variations_pkey PRIMARY KEY (id),
    CONSTRAINT project_tool_variations_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT project_tool_variations_group_id_fkey FOREIGN KEY (group_id)
        REFERENCES tool_variations_groups (id) ON DELETE CASCADE,
    CONSTRAINT project_tool_variations_project_id_key UNIQUE (project_id)
);

CREATE TABLE tool_variations (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    group_id uuid NOT NULL,
    src_tool_urn text NOT NULL,
    src_tool_name text NOT NULL,
    confirm text,
    confirm_prompt text,
    name text,
    summary text,
    description text,
    tags text[],
    summarizer text,
    title text,
    read_only_hint boolean,
    destructive_hint boolean,
    idempotent_hint boolean,
    open_world_hint boolean,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    deleted boolean NOT NULL GENERATED ALWAYS AS (deleted_at IS NOT NULL) STORED,
    CONSTRAINT tool_variations_pkey PRIMARY KEY (id),
    CONSTRAINT tool_variations_group_id_fkey FOREIGN KEY (group_id)
        REFERENCES tool_variations_groups (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX tool_variations_scoped_src_tool_urn_key
    ON tool_variations (group_id, src_tool_urn) WHERE deleted IS FALSE;

CREATE TABLE toolsets (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id text NOT NULL,
    project_id uuid NOT NULL,
    name text NOT NULL,
    slug text NOT NULL,
    description text,
    tool_variations_group_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT toolsets_pkey PRIMARY KEY (id),
    CONSTRAINT toolsets_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT toolsets_tool_variations_group_id_fkey FOREIGN KEY (tool_variations_group_id)
        REFERENCES tool_variations_groups (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX toolsets_project_id_slug_key ON toolsets (project_id, slug);

CREATE TABLE toolset_versions (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    toolset_id uuid NOT NULL,
    version bigint NOT NULL,
    tool_urns text[] NOT NULL DEFAULT '{}',
    resource_urns text[] NOT NULL DEFAULT '{}',
    predecessor_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT toolset_versions_pkey PRIMARY KEY (id),
    CONSTRAINT toolset_versions_toolset_id_fkey FOREIGN KEY (toolset_id)
        REFERENCES toolsets (id) ON DELETE CASCADE,
    CONSTRAINT toolset_versions_predecessor_id_fkey FOREIGN KEY (predecessor_id)
        REFERENCES toolset_versions (id) ON DELETE SET NULL,
    CONSTRAINT toolset_versions_toolset_id_version_key UNIQUE (toolset_id, version)
);

CREATE TABLE toolset_prompts (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    toolset_id uuid NOT NULL,
    prompt_history_id uuid NOT NULL,
    prompt_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT toolset_prompts_pkey PRIMARY KEY (id),
    CONSTRAINT toolset_prompts_toolset_id_fkey FOREIGN KEY (toolset_id)
        REFERENCES toolsets (id) ON DELETE CASCADE,
    CONSTRAINT toolset_prompts_toolset_id_prompt_history_id_key UNIQUE (toolset_id, prompt_history_id)
);
"""

DOWNGRADE = """
DROP TABLE toolset_prompts;
DROP TABLE toolset_versions;
DROP TABLE toolsets;
DROP TABLE tool_variations;
DROP TABLE project_tool_variations;
DROP TABLE tool_variations_groups;
DROP TABLE prompt_templates;
DROP TABLE resource_definitions;
DROP TABLE http_tool_definitions;
DROP TABLE deployments;
DROP TABLE projects;
DROP TABLE api_keys;
"""


def _execute_each(script: str) -> None:
    # asyncpg prepares each statement, and a prepared statement holds one command.
    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _execute_each(UPGRADE)


def downgrade() -> None:
    _execute_each(DOWNGRADE)
