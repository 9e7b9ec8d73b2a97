"""The benchmark's upstream: answers at once, so what is measured is the gateway's overhead."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def pet(request: Request) -> JSONResponse:
    return JSONResponse({"id": int(request.path_params["pet_id"]), "name": "Rex", "tag": "dog"})


app = Starlette(routes=[Route("/v1/pets/{pet_id}", pet)])

DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "Bench petstore", "version": "1"},
    "paths": {
        "/pets/{petId}": {
            "get": {
                "operationId": "showPetById",
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {"200": {"description": "ok"}},
            }
        }
    },
}
