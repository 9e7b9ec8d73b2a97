"""A bare FastAPI app, for reference only: the body the service serves, from memory, with no
middleware, dependencies or database. Run by bench/run.py with uvicorn like the service."""

import os
from pathlib import Path

from fastapi import FastAPI, Response

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/body")
async def body() -> Response:
    return Response(BODY, media_type="application/json")
