# docbatch image: the worker (default) or the starter CLI. Multi-stage, runs as non-root.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY docbatch ./docbatch
COPY workflows ./workflows
COPY activities ./activities
COPY worker.py starter.py ./
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
# OCR for scanned pages and images (docbatch calls the tesseract program).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
       tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 docbatch && mkdir /data && chown docbatch /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH DOCBATCH_DATA_DIR=/data PYTHONUNBUFFERED=1
USER docbatch
CMD ["python", "worker.py"]
