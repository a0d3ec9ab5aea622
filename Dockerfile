# One image for the API, the workers and the scheduler; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 conveyor

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY api ./api
COPY workers ./workers
COPY scheduler ./scheduler
COPY models ./models
COPY core ./core
RUN pip install --no-cache-dir . && pip install --no-cache-dir --no-deps drf-spectacular-sidecar==2026.10.1

USER conveyor
ENV CONVEYOR_ENV=production VAR_DIR=/tmp/conveyor HOST=0.0.0.0 PORT=8000
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "2", "--threads", "64", \
     "--no-control-socket", "api:create_app()"]
