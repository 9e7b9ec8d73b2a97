from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Response, status

from app.kit.auth import RequireRead, RequireWrite
from app.kit.json_body import JsonRoute
from app.kit.pagination import Page as PageParams
from app.kit.params import ProjectParam
from app.kit.schemas import AUTH_RESPONSES, BODY, CONFLICT, INVALID, NOT_FOUND, Page, headers
from app.webhooks.schemas import Webhook, WebhookCreate, WebhookCreated, WebhookDelivery
from app.webhooks.service import WebhookService, webhook_service

router = APIRouter(
    route_class=JsonRoute,
    prefix="/projects/{project}/webhooks",
    tags=["projects"],
    responses=AUTH_RESPONSES | NOT_FOUND,
)

WebhookIdParam = Annotated[
    UUID,
    Path(
        description="The webhook's id, as createWebhook answered it.",
        examples=["7c9e6679-7425-40de-944b-e07fc1f90ae7"],
    ),
]
DeliveryIdParam = Annotated[
    UUID,
    Path(
        description="The delivery's id, from listWebhookDeliveries.",
        examples=["0b5e2c1e-6a43-4c6b-9f0e-1d2c3b4a5968"],
    ),
]


@router.post(
    "",
    operation_id="createWebhook",
    status_code=status.HTTP_201_CREATED,
    dependencies=[RequireWrite],
    responses=BODY | CONFLICT | headers(201, "Location"),
)
async def create_webhook(
    project: ProjectParam,
    body: WebhookCreate,
    response: Response,
    service: WebhookService = Depends(webhook_service),
) -> WebhookCreated:
    """Send the project's events to `url`, signed as Standard Webhooks. The answer carries the
    signing secret, which no other operation shows."""
    created = await service.create(project, body)
    response.headers["Location"] = f"/v1/projects/{project}/webhooks/{created.id}"
    return created


@router.get("", operation_id="listWebhooks", dependencies=[RequireRead], responses=INVALID)
async def list_webhooks(
    project: ProjectParam, page: PageParams = Depends(), service: WebhookService = Depends(webhook_service)
) -> Page[Webhook]:
    """Newest first."""
    items, cursor = await service.list_webhooks(project, page.position(datetime, UUID), page.limit)
    return Page[Webhook](items=items, next_cursor=cursor)


@router.get("/{webhook_id}", operation_id="getWebhook", dependencies=[RequireRead], responses=INVALID)
async def get_webhook(
    project: ProjectParam, webhook_id: WebhookIdParam, service: WebhookService = Depends(webhook_service)
) -> Webhook:
    """The webhook, without its secret."""
    return await service.get(project, webhook_id)


@router.delete(
    "/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[RequireWrite],
    responses=INVALID,
)
async def delete_webhook(
    project: ProjectParam, webhook_id: WebhookIdParam, service: WebhookService = Depends(webhook_service)
) -> None:
    """Stops deliveries at once, pending retries included; its delivery history goes with it."""
    await service.delete(project, webhook_id)


@router.get(
    "/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    dependencies=[RequireRead],
    responses=INVALID,
)
async def list_webhook_deliveries(
    project: ProjectParam,
    webhook_id: WebhookIdParam,
    page: PageParams = Depends(),
    service: WebhookService = Depends(webhook_service),
) -> Page[WebhookDelivery]:
    """Newest first; each with its attempts."""
    position = page.position(datetime, UUID)
    items, cursor = await service.list_deliveries(project, webhook_id, position, page.limit)
    return Page[WebhookDelivery](items=items, next_cursor=cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    operation_id="redeliverWebhookDelivery",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[RequireWrite],
    responses=INVALID | CONFLICT,
)
async def redeliver_webhook_delivery(
    project: ProjectParam,
    webhook_id: WebhookIdParam,
    delivery_id: DeliveryIdParam,
    service: WebhookService = Depends(webhook_service),
) -> WebhookDelivery:
    """Send a delivered or failed delivery again (same `webhook-id` and body, a new signature),
    with retries as for a new event. 409 while it is still pending."""
    return await service.redeliver(project, webhook_id, delivery_id)
