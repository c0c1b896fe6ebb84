# syntax=docker/dockerfile:1
# One image for every wattbus service, amd64 and arm64 (Raspberry Pi):
#   docker compose build                       (what compose.yaml uses)
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/wattbus:<tag> --push .
# A container runs one service:
# `wattbus run shelly|zendure|smartevse|myenergi|kraken|powerwall|nrgkick|solaredge|kasa|smappee|controller|notify`.

ARG PYTHON_VERSION=3.12
ARG UV_VERSION=0.13

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# --- builder: resolve the locked dependencies into /app/.venv -----------------------------------
FROM python:${PYTHON_VERSION}-slim AS builder
COPY --from=uv /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=0 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# The services shipped in the image; the simulator (demo and tests) stays out.
ARG PACKAGES="--package wattbus-shelly --package wattbus-zendure --package wattbus-smartevse \
    --package wattbus-myenergi --package wattbus-kraken --package wattbus-controller \
    --package wattbus-powerwall \
    --package wattbus-nrgkick --package wattbus-solaredge \
    --package wattbus-kasa --package wattbus-smappee --package wattbus-notify"

# Dependencies first, from the lock and the workspace's pyproject files only: this layer is
# rebuilt when the lock changes, not when the sources do. (A new service adds a line here.)
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY services/shelly/pyproject.toml services/shelly/
COPY services/zendure/pyproject.toml services/zendure/
COPY services/smartevse/pyproject.toml services/smartevse/
COPY services/myenergi/pyproject.toml services/myenergi/
COPY services/kraken/pyproject.toml services/kraken/
COPY services/controller/pyproject.toml services/controller/
COPY services/powerwall/pyproject.toml services/powerwall/
COPY services/nrgkick/pyproject.toml services/nrgkick/
COPY services/solaredge/pyproject.toml services/solaredge/
COPY services/kasa/pyproject.toml services/kasa/
COPY services/smappee/pyproject.toml services/smappee/
COPY services/notify/pyproject.toml services/notify/
COPY services/simulator/pyproject.toml services/simulator/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace ${PACKAGES}

# Then the workspace packages themselves, installed non-editable: the venv needs no sources.
COPY shared/ shared/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable ${PACKAGES}

# --- runtime: the venv, a non-root user, nothing else ----------------------------------------------
FROM python:${PYTHON_VERSION}-slim

LABEL org.opencontainers.image.title="wattbus" \
      org.opencontainers.image.description="wattbus services: device bridges and controller over MQTT"

# /var/lib/wattbus is owned by the service user, so a new named volume mounted there is too.
RUN groupadd --system --gid 10001 wattbus \
    && useradd --system --uid 10001 --gid wattbus --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin wattbus \
    && install -d -o wattbus -g wattbus -m 0750 /var/lib/wattbus

COPY --from=builder /app/.venv /app/.venv

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WATTBUS_HEALTH_FILE=/tmp/wattbus.health

USER 10001:10001
WORKDIR /app

# Healthy while the service is connected to the broker and alive (its heartbeat file is fresh).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/app/.venv/bin/wattbus", "health"]

ENTRYPOINT ["wattbus"]
CMD ["--help"]
