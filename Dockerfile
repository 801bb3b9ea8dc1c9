# Lana: one image for every process (`lana api`, `lana worker`, `lana migrate`).
#   docker build -t lana .
#   docker run --rm -e LANA_DATABASE_URL=... -e LANA_TEMPORAL_ADDRESS=... lana migrate
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ground/ ground/
COPY domain/ domain/
COPY workflows/ workflows/
COPY activities/ activities/
COPY api/ api/
COPY workers/ workers/
COPY migrations/ migrations/
RUN python -m venv /opt/lana && /opt/lana/bin/pip install .

FROM python:3.11-slim
COPY --from=build /opt/lana /opt/lana
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/lana lana \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/lana/audit
ENV PATH=/opt/lana/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LANA_ENVIRONMENT=production \
    LANA_API_HOST=0.0.0.0 \
    LANA_API_PORT=8000
USER 10001:10001
WORKDIR /home/lana
EXPOSE 8000
# No HEALTHCHECK here: the worker serves no HTTP. Probes are set per process (docker-compose.yml, deploy/k8s).
ENTRYPOINT ["lana"]
CMD ["api"]
