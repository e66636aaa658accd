# The service image: `docker compose up` runs it beside Postgres and Redis.
# An exact version tag: a rebuild takes the same Python (pin a digest too where a registry can
# be asked for one). The dependencies come from the lock, with their hashes.
FROM python:3.11.11-slim-bookworm
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The lock first, alone: this layer is rebuilt only when the dependencies change.
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md piccolo_conf.py ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps . && useradd --system --uid 10001 revocation
USER revocation
EXPOSE 8000
# Ready, not merely live: 503 (an error for urlopen) while the database cannot answer.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=2)"
CMD ["revocation", "serve", "--host", "0.0.0.0", "--port", "8000"]
