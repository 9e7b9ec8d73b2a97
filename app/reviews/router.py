from fastapi import APIRouter, Depends, Response, status

from app.kit.auth import RequireApprove, RequireRead, RequireWrite
from app.kit.etag import IfMatch, set_etag
from app.kit.json_body import JsonRoute
from app.kit.params import ProjectParam, ToolsetParam
from app.kit.schemas import AUTH_RESPONSES, BODY, NOT_FOUND, PRECONDITION, headers, problem, problem_example
from app.reviews.schemas import ApprovalCreate, Review, ReviewRequest
from app.reviews.service import ReviewService, review_path, review_service

router = APIRouter(
    route_class=JsonRoute,
    prefix="/projects/{project}/toolsets/{toolset}/staging/review",
    tags=["staging"],
    responses=AUTH_RESPONSES | NOT_FOUND,
)

REVIEW_CONFLICT = {
    409: problem(
        "The review does not allow it: `review_exists`, `review_outdated`, `already_approved`",
        problem_example(
            409,
            "review_outdated",
            "Conflict",
            "The staging copy of 'pets' changed after it was put up for review (it is at version 7 now), "
            "so that review no longer counts: read the staging copy, then request a new review (POST "
            "/v1/projects/petstore/toolsets/pets/staging/review).",
            hint="POST /v1/projects/petstore/toolsets/pets/staging/review",
        ),
    )
}
SELF_APPROVAL = {
    403: problem(
        "The key lacks the `approve` scope, or it requested the review (`self_approval`)",
        problem_example(
            403,
            "self_approval",
            "Forbidden",
            "The API key that requested a review cannot approve it: approve with another key that has "
            "the `approve` scope.",
        ),
    )
}


def _answer(response: Response, project: str, toolset: str, review: Review) -> Review:
    response.headers["Location"] = review_path(project, toolset)
    set_etag(response, review.staging_version)
    return review


@router.post(
    "",
    operation_id="requestReview",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireWrite],
    responses=BODY | REVIEW_CONFLICT | PRECONDITION | headers(201, "ETag", "Location"),
)
async def request_review(
    project: ProjectParam,
    toolset: ToolsetParam,
    response: Response,
    body: ReviewRequest | None = None,
    if_match: IfMatch = None,
    service: ReviewService = Depends(review_service),
) -> Review:
    """Put the staging copy, at its current version, up for review (send the version you read as
    `If-Match`). Approvals approve that version: any later edit of the staging copy voids them,
    and the next review is requested anew. 409 `review_exists` when this version is under review."""
    review = await service.request(project, toolset, body.note if body else None, if_match)
    return _answer(response, project, toolset, review)


@router.get("", operation_id="getReview", dependencies=[RequireRead], responses=headers(200, "ETag"))
async def get_review(
    project: ProjectParam,
    toolset: ToolsetParam,
    response: Response,
    service: ReviewService = Depends(review_service),
) -> Review:
    """The toolset's latest review: its approvals, whether it still matches the staging copy
    (`status`), and how many approvals the policy requires. The ETag is the reviewed version."""
    review = await service.get(project, toolset)
    set_etag(response, review.staging_version)
    return review


@router.post(
    "/approvals",
    operation_id="approveReview",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireApprove],
    responses=BODY | SELF_APPROVAL | REVIEW_CONFLICT | PRECONDITION | headers(201, "ETag", "Location"),
)
async def approve_review(
    project: ProjectParam,
    toolset: ToolsetParam,
    response: Response,
    body: ApprovalCreate | None = None,
    if_match: IfMatch = None,
    service: ReviewService = Depends(review_service),
) -> Review:
    """Approve the staging copy under review (needs the `approve` scope). Send the reviewed version
    you read as `If-Match` so that you approve what you read (412 otherwise). 403 `self_approval` for
    the key that requested the review; 409 `review_outdated` once the staging copy changed,
    `already_approved` for a second approval by one key. Emits `review.approved`."""
    review = await service.approve(project, toolset, body.comment if body else None, if_match)
    return _answer(response, project, toolset, review)
