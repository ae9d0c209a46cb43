# docbatch: one image for the worker (default command) and the HTTP API
# (`python -m docbatch.api`); docker-compose.yml runs both. Multi-stage: the builder
# makes a virtualenv, the runtime stage gets that venv, Tesseract and two scripts, and
# runs as the unprivileged user `docbatch`.
ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so that a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --requirement /tmp/requirements.txt
# Then docbatch itself (not editable: the runtime stage has no source tree).
COPY README.md ./
COPY docbatch ./docbatch
COPY workflows ./workflows
COPY activities ./activities
COPY worker.py starter.py ./
RUN pip install --no-deps . \
    && python -c "import docbatch.api, worker, starter"

FROM ${PYTHON_IMAGE} AS runtime
# Tesseract for scanned pages and images (docbatch runs the `tesseract` program) with
# the language packs, and headless LibreOffice for legacy and OpenDocument files (the
# `soffice` program), as scripts/install-system-deps.sh installs for development and CI.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        tesseract-ocr \
        tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa \
        tesseract-ocr-ita tesseract-ocr-por tesseract-ocr-nld tesseract-ocr-kor \
        tesseract-ocr-jpn tesseract-ocr-chi-sim tesseract-ocr-chi-tra tesseract-ocr-rus \
        libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui \
    && rm -rf /var/lib/apt/lists/*
# /data is the data volume's mount point: a fresh named volume takes its owner from here.
RUN groupadd --system --gid 10001 docbatch \
    && useradd --system --uid 10001 --gid docbatch --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin docbatch \
    && mkdir -p /data \
    && chown docbatch:docbatch /data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The package lives in the venv; these two are the entry points run by file name.
COPY worker.py starter.py ./
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DOCBATCH_DATA_DIR=/data
USER docbatch
# 8000: the HTTP API; 9464: the worker's Prometheus metrics.
EXPOSE 8000 9464
CMD ["python", "worker.py"]
