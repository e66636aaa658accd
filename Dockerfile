# The service image: `docker compose up` runs it beside Postgres and Redis.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY src ./src
COPY piccolo_conf.py ./
RUN pip install --no-cache-dir . && useradd --system --uid 10001 revocation
USER revocation
EXPOSE 8000
# Ready, not merely live: 503 (an error for urlopen) while the database cannot answer.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=2)"
CMD ["revocation", "serve", "--host", "0.0.0.0", "--port", "8000"]
