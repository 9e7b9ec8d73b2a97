"""Every statement of the reviews domain."""

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, RowMapping, ScalarSelect, Select, Update, and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api_keys.queries import ACTING_KEY_COLUMNS, acted_as
from app.db.tables import api_keys, review_approvals, reviews

_VIEW = select(reviews, *ACTING_KEY_COLUMNS).outerjoin(api_keys, acted_as(reviews.c.requested_by))


async def insert_review(
    conn: AsyncConnection,
    toolset_id: UUID,
    staging_toolset_id: UUID,
    staging_version: int,
    note: str | None,
    requested_by: str,
    state_digest: bytes,
) -> UUID:
    stmt = (
        reviews.insert()
        .values(
            toolset_id=toolset_id,
            staging_toolset_id=staging_toolset_id,
            staging_version=staging_version,
            note=note,
            requested_by=requested_by,
            state_digest=state_digest,
        )
        .returning(reviews.c.id)
    )
    review_id: UUID = (await conn.execute(stmt)).scalar_one()
    return review_id


async def latest_review(conn: AsyncConnection, toolset_id: UUID) -> RowMapping | None:
    stmt = (
        _VIEW.where(reviews.c.toolset_id == toolset_id)
        .order_by(reviews.c.created_at.desc(), reviews.c.id.desc())
        .limit(1)
    )
    return (await conn.execute(stmt)).mappings().one_or_none()


# Subqueries read reviews under another name, so that one inside a statement on `reviews`
# (mark_published) is not correlated with it.
_latest_review = reviews.alias("latest_review")


def _of_copy(staging_toolset_id: Any, staging_version: Any, table: Any = reviews) -> ColumnElement[bool]:
    return and_(table.c.staging_toolset_id == staging_toolset_id, table.c.staging_version == staging_version)


def _latest(stmt: Select[Any], table: Any = reviews) -> Select[Any]:
    return stmt.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(1)


async def review_of_copy(
    conn: AsyncConnection, staging_toolset_id: UUID, staging_version: int
) -> RowMapping | None:
    """The review of this staging copy at this version: the latest one asked for (a copy and
    version is reviewed again when what it shares changed), the only one whose approvals count."""
    stmt = _latest(_VIEW.where(_of_copy(staging_toolset_id, staging_version)))
    row: RowMapping | None = (await conn.execute(stmt)).mappings().one_or_none()
    return row


def review_of_copy_id(
    staging_toolset_id: ColumnElement[Any], staging_version: ColumnElement[Any]
) -> ScalarSelect[Any]:
    """The id of the review of this staging copy at this version (NULL when that version was
    never put up for review): the only review whose approvals count."""
    r = _latest_review
    return _latest(
        select(r.c.id).where(_of_copy(staging_toolset_id, staging_version, r)), r
    ).scalar_subquery()


def valid_approval(review_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """An approval of `review_id` that counts: its key has not been revoked since (keys that
    are no longer trusted approve nothing)."""
    revoked = (
        select(api_keys.c.id)
        .where(acted_as(review_approvals.c.approved_by), api_keys.c.revoked_at.is_not(None))
        .exists()
    )
    return and_(review_approvals.c.review_id == review_id, ~revoked)


def approvals_of_copy(
    staging_toolset_id: ColumnElement[Any], staging_version: ColumnElement[Any]
) -> ScalarSelect[Any]:
    """How many valid approvals the review of this staging copy at this version has (0 without one)."""
    return (
        select(func.count(review_approvals.c.id))
        .where(valid_approval(review_of_copy_id(staging_toolset_id, staging_version)))
        .scalar_subquery()
    )


def state_digest_of_copy(
    staging_toolset_id: ColumnElement[Any], staging_version: ColumnElement[Any]
) -> ScalarSelect[Any]:
    """The digest of the state the review of this copy at this version reviewed (NULL: none
    recorded, or no review)."""
    r = _latest_review
    return _latest(
        select(r.c.state_digest).where(_of_copy(staging_toolset_id, staging_version, r)), r
    ).scalar_subquery()


async def approvals_of(conn: AsyncConnection, review_id: UUID) -> list[RowMapping]:
    stmt = (
        select(review_approvals, *ACTING_KEY_COLUMNS, api_keys.c.revoked_at.label("key_revoked_at"))
        .outerjoin(api_keys, acted_as(review_approvals.c.approved_by))
        .where(review_approvals.c.review_id == review_id)
        .order_by(review_approvals.c.created_at, review_approvals.c.id)
    )
    return list((await conn.execute(stmt)).mappings())


async def insert_approval(
    conn: AsyncConnection, review_id: UUID, approved_by: str, comment: str | None
) -> bool:
    """False when this key has approved this review already."""
    stmt = (
        insert(review_approvals)
        .values(review_id=review_id, approved_by=approved_by, comment=comment)
        .on_conflict_do_nothing(constraint="review_approvals_review_id_approved_by_key")
        .returning(review_approvals.c.id)
    )
    return (await conn.execute(stmt)).scalar_one_or_none() is not None


def mark_published(
    staging_toolset_id: ColumnElement[Any],
    staging_version: ColumnElement[Any],
    release_number: ColumnElement[Any],
) -> Update:
    """The review of what is being published (if any) is done: it names its release (a
    publish runs this inside its one statement)."""
    return (
        reviews.update()
        .where(reviews.c.id == review_of_copy_id(staging_toolset_id, staging_version))
        .values(release_number=release_number)
    )
