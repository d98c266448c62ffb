# Ségur Sandbox: multi-stage image, runs as a non-root user. (Not exercised on the development
# machines, which have no Docker engine; see the README.)
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /srv sandbox
WORKDIR /srv
COPY --from=build /opt/venv /opt/venv
RUN mkdir -p /srv/var && chown sandbox /srv/var
ENV PATH=/opt/venv/bin:$PATH \
    SEGUR_HTTP_HOST=0.0.0.0 \
    SEGUR_SMTP_HOST=0.0.0.0
USER sandbox
EXPOSE 8000 2525
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
CMD ["segur-sandbox", "serve"]
