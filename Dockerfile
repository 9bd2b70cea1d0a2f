# A slim image that serves Stint. Run migrations once per release:
#   docker run --rm -e STINT_DATABASE_URL=... stint stint migrate
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    STINT_HOST=0.0.0.0 \
    STINT_PORT=8000 \
    STINT_DATABASE_URL=sqlite+aiosqlite:////data/stint.db

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 stint \
    && mkdir -p /data && chown stint /data
COPY alembic.ini ./
COPY alembic ./alembic

USER stint
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["stint", "serve", "--with-worker"]
