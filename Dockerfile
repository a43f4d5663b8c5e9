# The knowledge-base service: `kb serve` on port 8000.
# Build: docker build -t kb-chat .   (not built on the development machine: it has no
# Docker engine; the same code paths run there against embedded Qdrant and in CI.)
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY kbcore ./kbcore
COPY ingest ./ingest
COPY service ./service
COPY kbcli ./kbcli
RUN python -m venv /opt/kb && /opt/kb/bin/pip install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 kb && mkdir -p /data /app && chown kb:kb /data
COPY --from=build /opt/kb /opt/kb
COPY content /app/content
COPY eval /app/eval
WORKDIR /app
ENV PATH=/opt/kb/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    KB_HOST=0.0.0.0 \
    KB_PORT=8000 \
    KB_CONTENT_DIR=/app/content \
    KB_DATA_DIR=/data
USER kb
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
CMD ["kb", "serve"]
