# syntax=docker/dockerfile:1
# Build: a wheel of the service and its dependencies, in a throwaway stage.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY app ./app
COPY alembic ./alembic
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

# Run: the wheels (the service's carries its migrations), a non-root user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin toolsets
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /srv
USER toolsets
EXPOSE 8000
# DATABASE_URL must point at PostgreSQL: the image never starts an embedded one.
# Migrations run first (they are safe to re-run), then the server; for a rollout
# across many hosts, run `toolsets migrate` once as a job and drop it from here.
CMD ["sh", "-c", "toolsets migrate && exec toolsets serve --host 0.0.0.0 --port 8000 --workers ${WORKERS:-2}"]
